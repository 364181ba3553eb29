# Cache prewarming: what a cold machine would otherwise build or download first (the crane
# dependency artifacts, the vendored crates, the devshell's inputs) as one buildable output,
# `packages.cache-prewarm`, and an app that realises it and pushes its closure to a binary
# cache the user names:
#   nix run .#cache-push -- cachix:NAME | attic:CACHE | STORE-URL (for `nix copy --to`)
# Other modules add to `benchmark.cache.prewarm`; the list merges.
{ lib, flake-parts-lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.perSystem = flake-parts-lib.mkPerSystemOption (
    { config, pkgs, ... }:
    let
      cfg = config.benchmark.cache;

      # Indexed link names: two entries may share a derivation name.
      prewarm = pkgs.linkFarm "benchmark-cache-prewarm" (
        lib.imap0 (i: drv: {
          name = "${toString i}-${drv.name}";
          path = drv;
        }) cfg.prewarm
      );

      # A shell function `push_with_EXE CACHE PATH` for one client, or an error where the
      # flake set that client to null.
      pushWith =
        exe: pkg:
        if pkg == null then
          ''
            push_with_${exe}() {
              echo "cache-push: this flake was configured without a ${exe} client" >&2
              exit 2
            }
          ''
        else
          ''
            push_with_${exe}() { "${pkg}/bin/${exe}" push "$1" "$2"; }
          '';

      push = pkgs.writeShellApplication {
        name = "cache-push";
        text = ''
          usage() {
            cat <<'EOF'
          usage: cache-push TARGET

          Realises the cache prewarm set (dependency artifacts, vendored crates, devshell
          inputs) and pushes its whole closure to TARGET:

            cachix:NAME   a Cachix cache (authenticate first: CACHIX_AUTH_TOKEN or `cachix authtoken`)
            attic:CACHE   an Attic cache (log in first: `attic login`)
            STORE-URL     any Nix store, with `nix copy --to` (s3://bucket?region=…, ssh-ng://host,
                          file:///path, …); signing follows your nix.conf (secret-key-files)

          TARGET defaults to $BENCHMARK_CACHE.
          EOF
          }

          target=''${1:-''${BENCHMARK_CACHE:-}}
          case $target in
            -h | --help) usage; exit 0 ;;
            "") usage >&2; exit 2 ;;
            cachix: | attic:)
              echo "cache-push: name the cache, e.g. ''${target}my-cache" >&2
              exit 2
              ;;
          esac
          if [ "$#" -gt 1 ]; then
            usage >&2
            exit 2
          fi

          ${pushWith "cachix" cfg.cachix}
          ${pushWith "attic" cfg.attic}
          prewarm=${prewarm}
          echo "cache-push: pushing the closure of $prewarm to $target" >&2
          case $target in
            cachix:?*) push_with_cachix "''${target#cachix:}" "$prewarm" ;;
            attic:?*) push_with_attic "''${target#attic:}" "$prewarm" ;;
            *)
              if ! command -v nix >/dev/null; then
                echo "cache-push: nix is not on PATH; it is needed for nix copy" >&2
                exit 2
              fi
              nix copy --to "$target" "$prewarm"
              ;;
          esac
        '';
      };
    in
    {
      options.benchmark.cache = {
        prewarm = mkOption {
          type = types.listOf types.package;
          default = [ ];
          description = ''
            Derivations to build once and share through a binary cache. Their closures are
            what `cache-prewarm` holds and `cache-push` pushes.
          '';
        };
        cachix = mkOption {
          type = types.nullOr types.package;
          default = pkgs.cachix;
          defaultText = lib.literalExpression "pkgs.cachix";
          description = "Cachix client for `cachix:` targets; null drops it from the app.";
        };
        attic = mkOption {
          type = types.nullOr types.package;
          default = pkgs.attic-client;
          defaultText = lib.literalExpression "pkgs.attic-client";
          description = "Attic client for `attic:` targets; null drops it from the app.";
        };
      };

      config = lib.mkIf (cfg.prewarm != [ ]) {
        packages.cache-prewarm = prewarm;
        apps.cache-push = {
          program = lib.getExe push;
          meta.description = "Build the cache prewarm set and push it to a binary cache";
        };
      };
    }
  );
}
