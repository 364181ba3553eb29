#!/usr/bin/env bash
# Build a runnable `benchmark` image with no registry and no network: a static release
# binary and a static busybox (the shell and coreutils steps need) on `FROM scratch`.
#
#   containers/build-offline.sh [--tag TAG] [--suite FILE] [--binary PATH]
#                               [--busybox PATH] [--target TRIPLE]
#
# Needs: the Rust toolchain (with the target's static C library: libc6-dev on Debian),
# docker, and a static busybox (Debian: `apt-get install busybox-static`). CARGO_TARGET_DIR
# is honoured.
# See containers/README.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

tag="benchmark:offline"
suite=""
binary=""
busybox=""
target=""

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "build-offline: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --suite) suite="${2:?--suite needs a file}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --busybox) busybox="${2:?--busybox needs a path}"; shift 2 ;;
    --target) target="${2:?--target needs a triple}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

command -v docker >/dev/null || die "docker is not on PATH"

# A binary that needs a loader or shared libraries cannot run on FROM scratch.
is_static() {
  if command -v ldd >/dev/null; then
    ! ldd "$1" 2>&1 | grep -q '=>'
  else
    echo "build-offline: ldd not found; assuming $1 is static" >&2
  fi
}

# --- the benchmark binary -------------------------------------------------------------
if [ -z "$binary" ]; then
  command -v cargo >/dev/null || die "cargo is not on PATH (or pass --binary)"
  [ -n "$target" ] || target="$(rustc -vV | sed -n 's/^host: //p')"
  case "$target" in
    *-linux-gnu*|*-linux-musl*) ;;
    *) die "target $target: the image needs a Linux binary (pass --target or --binary)" ;;
  esac
  echo "build-offline: building a static release binary for $target" >&2
  # --target keeps RUSTFLAGS off build scripts and proc-macros (they stay dynamic).
  (cd "$root" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    BENCHMARK_COMMIT="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
    cargo build --release --locked --target "$target" --bin benchmark) \
    || die "cargo build failed (a static glibc build needs libc6-dev; without network the dependencies must already be fetched: \`cargo fetch\` once)"
  binary="${CARGO_TARGET_DIR:-$root/target}/$target/release/benchmark"
fi
[ -x "$binary" ] || die "no executable at $binary"
is_static "$binary" || die "$binary is dynamically linked; build with RUSTFLAGS='-C target-feature=+crt-static' and --target"

# --- busybox ----------------------------------------------------------------------------
if [ -z "$busybox" ]; then
  for c in /bin/busybox /usr/bin/busybox "$(command -v busybox || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then busybox="$c"; break; fi
  done
fi
[ -n "$busybox" ] && [ -x "$busybox" ] \
  || die "no busybox found: install a static one (Debian: apt-get install busybox-static) or pass --busybox"
is_static "$busybox" \
  || die "$busybox is dynamically linked: install busybox-static (it replaces the dynamic busybox) or pass --busybox"

[ -z "$suite" ] || [ -f "$suite" ] || die "no suite file at $suite"

# --- stage the root filesystem ----------------------------------------------------------
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rootfs="$stage/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$stage/workspace/output"
chmod 1777 "$rootfs/tmp"
chmod 0755 "$stage/workspace" "$stage/workspace/output"

install -m 0755 "$binary" "$rootfs/bin/benchmark"
install -m 0755 "$busybox" "$rootfs/bin/busybox"
# `busybox --install` cannot run inside a FROM scratch build (there is no shell yet), so
# the applet links are made here.
for applet in $("$busybox" --list); do
  case "$applet" in busybox|benchmark) continue ;; esac
  ln -s busybox "$rootfs/bin/$applet"
done

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bench:x:65532:65532:benchmark:/workspace:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
bench:x:65532:
nogroup:x:65534:
EOF
echo "hosts: files dns" >"$rootfs/etc/nsswitch.conf"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$rootfs/etc/ssl/certs"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
fi
if [ -n "$suite" ]; then
  install -m 0644 "$suite" "$stage/workspace/benchmark.toml"
fi

version="$("$binary" --version | awk '{print $2}')"
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

echo "build-offline: docker build -t $tag" >&2
docker build -q -t "$tag" -f "$here/offline/Dockerfile" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$created" \
  "$stage" >/dev/null

size="$(docker image inspect -f '{{.Size}}' "$tag")"
awk -v t="$tag" -v s="$size" 'BEGIN { printf "%s: %.1f MiB (%d bytes)\n", t, s / 1048576, s }'
docker run --rm --network none --entrypoint /bin/benchmark "$tag" --version >/dev/null \
  || die "the image was built but its binary does not run"
