# Nix style, checked on every system: statix (anti-patterns, such as `{ ... }:` or a
# repeated attribute path) and deadnix (unused bindings and arguments) over every .nix
# file the flake holds, the consumer flake's included. `nix fmt` (nixfmt) formats them.
_: {
  perSystem =
    { lib, pkgs, ... }:
    let
      nixFiles = lib.fileset.toSource {
        root = ../.;
        fileset = lib.fileset.fileFilter (file: file.hasExt "nix") ../.;
      };
      lint =
        name: tool: command:
        pkgs.runCommandLocal "benchmark-${name}" { nativeBuildInputs = [ tool ]; } ''
          cd ${nixFiles}
          ${command}
          touch "$out"
        '';
    in
    {
      checks = {
        nix-statix = lint "statix" pkgs.statix "statix check .";
        nix-deadnix = lint "deadnix" pkgs.deadnix "deadnix --fail .";
      };
    };
}
