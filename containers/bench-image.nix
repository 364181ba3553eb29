# The benchmark container image (Linux): `benchmark entrypoint` as entrypoint, receipts in
# the /workspace/output volume, a non-root user, CA certificates, and a shell with coreutils
# for the suite's steps. Every byte comes from the flake lock; the creation date is the epoch
# so that the same lock gives the same image.
#
#   nix build .#bench-image && docker load < result
#   docker run --rm -v "$PWD/bench-out:/workspace/output" --user "$(id -u):$(id -g)" benchmark:VERSION
{
  lib,
  dockerTools,
  bashInteractive,
  coreutils,
  cacert,
  # the benchmark package
  benchmark,
  name ? "benchmark",
  tag ? benchmark.version,
  # a suite file baked in as BENCHMARK_SUITE; null runs the built-in system baseline
  suite ? null,
  # tools the suite's steps call, on PATH (/bin) in the image
  contents ? [ ],
  # environment baked into the image
  env ? { },
  # OCI labels beyond title, description and version (source, revision, …)
  labels ? { },
  # the user (`bench`) the entrypoint runs as; it owns /workspace
  uid ? 65532,
}:
let
  user = toString uid;
  # SPDX expression of the package's licenses (a list in meta means a choice of them)
  licenses = lib.concatMapStringsSep " OR " (l: l.spdxId or l.shortName or "") (
    lib.toList (benchmark.meta.license or [ ])
  );
in
dockerTools.buildLayeredImage {
  inherit name tag;
  contents = [
    benchmark
    bashInteractive # /bin/sh and /bin/bash
    coreutils
    cacert
  ]
  ++ contents;

  # Runs under fakeroot in the root of the final layer.
  fakeRootCommands = ''
    mkdir -p ./etc ./tmp ./usr/bin ./workspace/output
    chmod 1777 ./tmp
    # for the `#!/usr/bin/env bash` scripts that suites call
    ln -sfn ${lib.getExe' coreutils "env"} ./usr/bin/env
    rm -f ./etc/passwd ./etc/group
    cat > ./etc/passwd <<EOF
    root:x:0:0:root:/root:/bin/sh
    bench:x:${user}:${user}:benchmark:/workspace:/bin/sh
    nobody:x:65534:65534:nobody:/var/empty:/bin/false
    EOF
    cat > ./etc/group <<EOF
    root:x:0:
    bench:x:${user}:
    nobody:x:65534:
    EOF
    chown -R ${user}:${user} ./workspace
  '';

  config = {
    Entrypoint = [
      (lib.getExe' benchmark "benchmark")
      "entrypoint"
    ];
    User = "${user}:${user}";
    WorkingDir = "/workspace";
    Volumes."/workspace/output" = { };
    Env = lib.mapAttrsToList (k: v: "${k}=${v}") (
      {
        PATH = "/bin";
        # provenance for the entrypoint's banner
        BENCHMARK_IMAGE = "${name}:${tag} (nix)";
        SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
        # writable whichever --user the container runs as
        HOME = "/tmp";
      }
      // lib.optionalAttrs (suite != null) { BENCHMARK_SUITE = "${suite}"; }
      // env
    );
    Labels = {
      "org.opencontainers.image.title" = name;
      "org.opencontainers.image.description" =
        benchmark.meta.description or "benchmark: the reproducible benchmark appliance";
      "org.opencontainers.image.version" = benchmark.version;
    }
    // lib.optionalAttrs (licenses != "") { "org.opencontainers.image.licenses" = licenses; }
    // labels;
  };
}
