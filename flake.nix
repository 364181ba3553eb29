{
  description = "benchmark: the reproducible benchmark appliance";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    # Intel Macs, frozen at 26.05: nixpkgs 26.11 dropped x86_64-darwin (every package
    # throws there), and 26.05 is the last release that builds for it (README, Nix).
    nixpkgs-x86_64-darwin.url = "github:NixOS/nixpkgs/nixpkgs-26.05-darwin";
    flake-parts = {
      url = "github:hercules-ci/flake-parts";
      inputs.nixpkgs-lib.follows = "nixpkgs";
    };
    crane.url = "github:ipetkov/crane";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # the RustSec advisories the cargo-deny check reads, pinned like every other input
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs =
    inputs@{ flake-parts, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } (
      { flake-parts-lib, self, ... }:
      let
        nixpkgsFor =
          system: if system == "x86_64-darwin" then inputs.nixpkgs-x86_64-darwin else inputs.nixpkgs;

        # The reusable modules close over this flake's inputs, so that another flake can
        # import them without adding crane or rust-overlay to its own inputs.
        # Each carries a `key`, so that the module system imports it once however many
        # routes lead to it (`default` and the module itself): importApply returns a new
        # function each time, which it cannot otherwise tell apart ("option … is already
        # declared"). Not flake-parts' own `…/flake.nix#flakeModules.NAME`, which wraps
        # the exported module: the same key inside would be skipped as seen.
        keyed = name: module: {
          key = "${toString ./.}#benchmark.modules.${name}";
          _file = "${toString ./.}/flake.nix#modules.${name}";
          imports = [ module ];
        };
        modules = builtins.mapAttrs keyed {
          toolchain = flake-parts-lib.importApply ./modules/toolchain.nix {
            inherit (inputs) crane rust-overlay;
          };
          cache = ./modules/cache.nix;
          suites = flake-parts-lib.importApply ./modules/suites.nix { benchmarkFlake = self; };
        };
      in
      {
        systems = [
          "x86_64-linux"
          "aarch64-linux"
          "x86_64-darwin"
          "aarch64-darwin"
        ];

        imports = [
          flake-parts.flakeModules.flakeModules
          modules.toolchain
          modules.cache
          modules.suites
          ./nix/crate.nix
          ./nix/devshell.nix
          ./nix/image.nix
          ./nix/vm-test.nix
          ./nix/style.nix
        ];

        # The locked nixpkgs, named directly: flake-parts' default goes through inputs', which
        # needs a marker on inputs that Nix 2.8 does not set, and this flake is also evaluated
        # offline with Debian's Nix 2.8. x86_64-darwin takes its own, frozen input.
        perSystem =
          { pkgs, system, ... }:
          {
            _module.args.pkgs = (nixpkgsFor system).legacyPackages.${system};
            # `nix fmt`: the Nix files in nixpkgs' own style
            formatter = pkgs.nixfmt;
          };

        # `benchmark` for your own nixpkgs: `nixpkgs.overlays = [ benchmark.overlays.default ]`.
        # The build is this flake's (its toolchain pin and lock), for the system at hand.
        flake.overlays.default = _final: prev: {
          benchmark =
            self.packages.${prev.stdenv.hostPlatform.system}.benchmark
              or (throw "benchmark: no package for ${prev.stdenv.hostPlatform.system}");
        };

        flake.flakeModules = modules // {
          default.imports = builtins.attrValues modules;
        };
      }
    );
}
