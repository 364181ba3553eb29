# `nix build .#bench-image` (Linux systems): the container image of the built-in system
# baseline, through the suites module's image builder (containers/bench-image.nix).
_: {
  perSystem =
    {
      config,
      lib,
      pkgs,
      ...
    }:
    let
      cargoToml = builtins.fromTOML (builtins.readFile ../Cargo.toml);
    in
    {
      benchmark.image.source = cargoToml.package.repository;

      packages = lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
        bench-image = config.benchmark.mkImage { };
      };
    };
}
