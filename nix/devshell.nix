# `nix develop`: the MSRV toolchain (with rust-src and rust-analyzer), every input of the
# checks, and the tools the benchmarks and their receipts call for.
_: {
  perSystem =
    { config, pkgs, ... }:
    let
      rust = config.benchmark.rust;
      shell = rust.devCraneLib.devShell {
        # inputsFrom: the checks' build inputs (not the VM test's QEMU and test driver);
        # devCraneLib adds its toolchain first on PATH
        checks = removeAttrs config.checks [ "bench-image-vm" ];
        packages = [
          pkgs.cargo-nextest
          pkgs.hyperfine
          pkgs.docker-client
          pkgs.jq
        ];
        name = "benchmark";
        shellHook = ''
          echo "benchmark devshell: Rust ${rust.version} (MSRV, from Cargo.toml) · cargo nextest run · nix flake check · nix run .#benchmark -- run SUITE" >&2
        '';
      };
    in
    {
      devShells.default = shell;
      # everything `nix develop` needs, for the binary cache
      benchmark.cache.prewarm = [ shell.inputDerivation ];
    };
}
