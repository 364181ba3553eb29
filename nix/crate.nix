# The benchmark crate: one source, one commonArgs and one dependency build (crane
# buildDepsOnly) shared by the package and every check that `nix flake check` runs.
{ self, inputs, ... }:
{
  perSystem =
    {
      config,
      lib,
      pkgs,
      ...
    }:
    let
      craneLib = config.benchmark.rust.craneLib;
      cargoToml = builtins.fromTOML (builtins.readFile ../Cargo.toml);
      root = ../.;

      # Cargo sources plus what the tests read at run time or through include_str!:
      # fixtures and snapshots under tests/ and src/, and benches/; the nextest config.
      src = lib.fileset.toSource {
        inherit root;
        fileset = lib.fileset.unions [
          # The xtask (the project's own chores) is a workspace member that the package
          # never builds: keep its manifest, so the workspace loads, and leave its code out.
          (lib.fileset.difference (craneLib.fileset.commonCargoSources root) ../xtask)
          ../xtask/Cargo.toml
          (lib.fileset.maybeMissing ../tests)
          (lib.fileset.maybeMissing ../benches)
          (lib.fileset.fileFilter (
            file:
            lib.any file.hasExt [
              "toml"
              "snap"
              "json"
              "txt"
            ]
          ) ../src)
          # the nextest profile the check runs with
          ../.config/nextest.toml
        ];
      };

      commonArgs = {
        inherit src;
        pname = cargoToml.package.name;
        inherit (cargoToml.package) version;
        strictDeps = true;
        # No Darwin-only inputs: nixpkgs' Darwin stdenv has carried the Apple SDK, libiconv
        # included, since 24.11.
        cargoVendorDir = craneLib.vendorCargoDeps { inherit src; };
        # snapshot mismatches fail the tests instead of writing .snap.new files
        env.INSTA_UPDATE = "no";
      };

      cargoArtifacts = craneLib.buildDepsOnly commonArgs;

      benchmark = craneLib.buildPackage (
        commonArgs
        // {
          inherit cargoArtifacts;
          # the tests run once, in the nextest check
          doCheck = false;
          # the commit in `benchmark entrypoint`'s banner; only here, so that the
          # dependency build (and the cache) does not change with every commit
          env = commonArgs.env // {
            BENCHMARK_COMMIT = self.shortRev or self.dirtyShortRev or "unknown";
          };
          # for other checks that build from the same sources (nix/vm-test.nix)
          passthru = { inherit commonArgs cargoArtifacts; };
          meta = {
            inherit (cargoToml.package) description;
            homepage = cargoToml.package.repository;
            license = with lib.licenses; [
              mit
              asl20
            ];
            mainProgram = "benchmark";
          };
        }
      );
    in
    {
      packages = {
        inherit benchmark;
        default = benchmark;
      };

      apps.benchmark = {
        program = lib.getExe benchmark;
        meta.description = cargoToml.package.description;
      };
      apps.default = config.apps.benchmark;

      checks = {
        inherit benchmark;

        benchmark-clippy = craneLib.cargoClippy (
          commonArgs
          // {
            inherit cargoArtifacts;
            cargoClippyExtraArgs = "--all-targets -- --deny warnings";
          }
        );

        benchmark-fmt = craneLib.cargoFmt { inherit src; };

        benchmark-nextest = craneLib.cargoNextest (
          commonArgs
          // {
            inherit cargoArtifacts;
            partitions = 1;
            partitionType = "count";
            # .config/nextest.toml: no retries, slow-test timeouts, JUnit report
            cargoNextestExtraArgs = "--profile ci";
            postCheck = ''
              cp "''${CARGO_TARGET_DIR:-target}/nextest/ci/junit.xml" "$out/junit.xml"
            '';
            # the Docker ping test of a silent TCP port listens on loopback; the tests' scripts
            # are `/bin/sh` ones, which the sandbox has, so no shebang needs patching
            __darwinAllowLocalNetworking = true;
            # the integration tests start escaping daemons with `setsid` (util-linux); a
            # load test's operation stamps its own clock with python3
            nativeBuildInputs = [
              pkgs.python3
            ]
            ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.util-linux ];
          }
        );

        # deny.toml: licenses, bans, sources and the RustSec advisories, offline. The
        # database is the locked `advisory-db` input, made the git clone cargo-deny keeps of
        # https://github.com/RustSec/advisory-db (the directory is named from a hash of that
        # URL), committed at the input's own date. Fresher advisories: `nix flake update
        # advisory-db`; cargo-deny's 90-day staleness limit passes (a new clone counts as
        # fetched now), so the lock, not the clock, decides what the check knows.
        benchmark-deny = craneLib.cargoDeny (
          commonArgs
          // {
            cargoDenyChecks = "advisories bans licenses sources";
            cargoDenyExtraArgs = "--offline";
            nativeBuildInputs = [ pkgs.git ];
            preBuild =
              let
                advisoryDb = inputs.advisory-db;
                date = "@${toString (advisoryDb.lastModified or 0)}";
              in
              ''
                db="$CARGO_HOME/advisory-dbs/advisory-db-3157b0e258782691"
                mkdir -p "$db"
                cp -r --no-preserve=mode ${advisoryDb}/. "$db"
                git -C "$db" init --quiet
                git -C "$db" add --all
                GIT_AUTHOR_DATE="${date}" GIT_COMMITTER_DATE="${date}" git -C "$db" \
                  -c user.name=nix -c user.email=nix@localhost \
                  commit --quiet -m "rustsec/advisory-db ${advisoryDb.rev or "unknown"}"
              '';
          }
        );

        benchmark-doc = craneLib.cargoDoc (
          commonArgs
          // {
            inherit cargoArtifacts;
            env = commonArgs.env // {
              RUSTDOCFLAGS = "--deny warnings";
            };
          }
        );
      };

      benchmark = {
        # the module's default would be this same package, read back through the flake
        package = benchmark;
        cache.prewarm = [
          cargoArtifacts
          commonArgs.cargoVendorDir
        ];
      };
    }
  ;
}
