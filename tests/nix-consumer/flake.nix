# A flake that uses this project the way another project would: `flakeModules.default` and
# every module on its own besides (the keys make that legal), one suite of its own, and the
# app and image the suites module makes of it. Checked by `.ci/nix-eval-all` here and by
# the nix workflow with real nixpkgs; both point `benchmark` at this checkout:
#   nix flake check ./tests/nix-consumer --override-input benchmark . --no-write-lock-file
{
  description = "benchmark: a consumer flake of the reusable modules (test)";

  inputs = {
    benchmark.url = "github:benchmark-appliance/benchmark";
    nixpkgs.follows = "benchmark/nixpkgs";
    flake-parts.follows = "benchmark/flake-parts";
  };

  outputs =
    inputs@{ flake-parts, benchmark, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
      ];

      imports = [
        benchmark.flakeModules.default
        benchmark.flakeModules.toolchain
        benchmark.flakeModules.cache
        benchmark.flakeModules.suites
      ];

      perSystem =
        {
          config,
          pkgs,
          system,
          ...
        }:
        {
          # as in the benchmark flake: the locked nixpkgs, without inputs' (Nix 2.8)
          _module.args.pkgs = inputs.nixpkgs.legacyPackages.${system};

          # a workspace manifest: `rust-version.workspace = true` in [package]
          benchmark.rust.manifest = ./Cargo.toml;

          benchmark.suites.smoke = {
            file = "${./bench}/smoke.toml";
            runArgs = [
              "--runs"
              "2"
            ];
            runtimeInputs = [ pkgs.jq ];
            env.SMOKE_GREETING = "hello";
          };

          checks = {
            inherit (config.packages) bench-smoke;
            toolchain =
              assert config.benchmark.rust.version == "1.89";
              config.benchmark.rust.toolchain;
          }
          // pkgs.lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
            inherit (config.packages) bench-image-smoke;
          };
        };
    };
}
