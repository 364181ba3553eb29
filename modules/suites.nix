# Benchmark suites declared by a flake: each `benchmark.suites.<name>` becomes an app that
# runs it (`nix run .#bench-<name> -- [benchmark run options]`) and, on Linux, a container
# image with the suite baked in (`nix build .#bench-image-<name>`).
#
# Applied with flake-parts' importApply, so it carries the benchmark package with it:
#   imports = [ benchmark.flakeModules.suites ];
#   perSystem.benchmark.suites.api = { file = ./bench/api.toml; runtimeInputs = [ pkgs.curl ]; };
{ benchmarkFlake }:
{ lib, flake-parts-lib, self, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.perSystem = flake-parts-lib.mkPerSystemOption (
    {
      config,
      pkgs,
      system,
      ...
    }:
    let
      cfg = config.benchmark;
      isLinux = pkgs.stdenv.hostPlatform.isLinux;

      suiteModule =
        { name, config, ... }:
        {
          options = {
            file = mkOption {
              type = types.path;
              example = lib.literalExpression ''"''${./bench}/api.toml"'';
              description = ''
                The suite file. A path copies just this file into the store; to ship the
                scripts its steps call along with it, point into a directory:
                `"''${./bench}/api.toml"`. Steps run in the suite file's directory, which
                is then in the read-only store: a suite whose steps write files sets
                `working_dir` in its `[suite]` (e.g. `"/tmp"`) or writes under
                `$BENCHMARK_RUN_DIR`.
              '';
            };
            runArgs = mkOption {
              type = types.listOf types.str;
              default = [ ];
              example = [
                "--runs"
                "5"
              ];
              description = "Options of `benchmark run` that the app always passes.";
            };
            runtimeInputs = mkOption {
              type = types.listOf types.package;
              default = [ ];
              description = "Tools the suite's steps call: on PATH in the app and in the image.";
            };
            env = mkOption {
              type = types.attrsOf types.str;
              default = { };
              description = "Environment of the app and the image.";
            };
            image = {
              enable = mkOption {
                type = types.bool;
                default = true;
                description = "Build `bench-image-<name>` (Linux systems only).";
              };
              name = mkOption {
                type = types.str;
                default = "benchmark-${name}";
                description = "Image name, as `docker load` reports it.";
              };
              tag = mkOption {
                type = types.str;
                default = cfg.package.version;
                defaultText = lib.literalExpression "config.benchmark.package.version";
                description = "Image tag.";
              };
              contents = mkOption {
                type = types.listOf types.package;
                default = [ ];
                description = "Further packages in the image only.";
              };
            };
            app = mkOption {
              type = types.package;
              readOnly = true;
              description = "The wrapper that runs this suite.";
            };
          };

          config.app = pkgs.writeShellApplication {
            name = "bench-${name}";
            runtimeInputs = [ cfg.package ] ++ config.runtimeInputs;
            text = ''
              ${lib.concatStrings (
                lib.mapAttrsToList (k: v: "export ${k}=${lib.escapeShellArg v}\n") config.env
              )}exec benchmark run ${lib.escapeShellArg "${config.file}"} ${lib.escapeShellArgs config.runArgs} "$@"
            '';
            meta.description = "Run the benchmark suite ${name}";
          };
        };
    in
    {
      options.benchmark = {
        package = mkOption {
          type = types.package;
          default =
            benchmarkFlake.packages.${system}.benchmark
              or (throw "benchmark: no benchmark package for ${system}; set perSystem.benchmark.package");
          defaultText = lib.literalMD "the benchmark flake's package for this system";
          description = "The benchmark harness that apps and images run.";
        };

        image = {
          source = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "https://github.com/OWNER/REPO";
            description = "`org.opencontainers.image.source` label of every image; null omits it.";
          };
          revision = mkOption {
            type = types.str;
            default = self.rev or self.dirtyRev or "dirty";
            defaultText = lib.literalExpression ''self.rev or self.dirtyRev or "dirty"'';
            description = "`org.opencontainers.image.revision` label of every image.";
          };
        };

        mkImage = mkOption {
          type = types.functionTo types.package;
          readOnly = true;
          description = ''
            Builds an image from `containers/bench-image.nix` with this module's package and
            labels: `mkImage { name, tag, suite, contents, env }`, every argument optional.
          '';
        };

        suites = mkOption {
          type = types.attrsOf (types.submodule suiteModule);
          default = { };
          description = "Suites, each with an app `bench-<name>` and an image `bench-image-<name>`.";
        };
      };

      config = {
        benchmark.mkImage =
          args:
          pkgs.callPackage ../containers/bench-image.nix (
            {
              benchmark = cfg.package;
              labels = {
                "org.opencontainers.image.revision" = cfg.image.revision;
              }
              // lib.optionalAttrs (cfg.image.source != null) {
                "org.opencontainers.image.source" = cfg.image.source;
              };
            }
            // args
          );

        packages = lib.mkMerge [
          (lib.mapAttrs' (name: suite: lib.nameValuePair "bench-${name}" suite.app) cfg.suites)
          (lib.mkIf isLinux (
            lib.mapAttrs' (
              name: suite:
              lib.nameValuePair "bench-image-${name}" (
                cfg.mkImage {
                  inherit (suite.image) name tag;
                  suite = suite.file;
                  contents = suite.runtimeInputs ++ suite.image.contents;
                  inherit (suite) env;
                }
              )
            ) (lib.filterAttrs (_: suite: suite.image.enable) cfg.suites)
          ))
        ];

        apps = lib.mapAttrs' (
          name: suite:
          lib.nameValuePair "bench-${name}" {
            program = lib.getExe suite.app;
            meta.description = "Run the benchmark suite ${name}";
          }
        ) cfg.suites;
      };
    }
  );
}
