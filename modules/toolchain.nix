# The Rust toolchain pinned to a Cargo manifest's `rust-version` (rust-overlay), and a crane
# library built on it. Cargo.toml stays the one source of truth for the MSRV: there is no
# rust-toolchain.toml.
#
# Applied with flake-parts' importApply, so it carries crane and rust-overlay with it:
#   imports = [ benchmark.flakeModules.toolchain ];
#   perSystem = { config, ... }: { packages.default = config.benchmark.rust.craneLib.buildPackage { … }; };
{ crane, rust-overlay }:
{ lib, flake-parts-lib, self, ... }:
let
  inherit (lib) mkOption types;

  # `package.rust-version`; `workspace.package.rust-version` for a virtual manifest or a
  # package that inherits it (`rust-version.workspace = true`).
  msrvOf =
    manifest:
    let
      toml = builtins.fromTOML (builtins.readFile manifest);
      own = toml.package.rust-version or null;
      inherited = toml.workspace.package.rust-version or null;
    in
    if builtins.isString own then
      own
    else if inherited != null then
      inherited
    else if own != null then
      throw "benchmark.rust: ${toString manifest} inherits rust-version from its workspace; set benchmark.rust.manifest to the workspace root's Cargo.toml"
    else
      throw "benchmark.rust: ${toString manifest} has no rust-version (package or workspace.package)";
in
{
  options.perSystem = flake-parts-lib.mkPerSystemOption (
    { config, pkgs, ... }:
    let
      cfg = config.benchmark.rust;

      # A two-part version (Cargo's usual "1.89") means the newest patch release of it.
      resolve =
        rustBin: version:
        let
          releases = builtins.attrNames rustBin.stable;
          patches = lib.filter (
            r: lib.hasPrefix "${version}." r && lib.length (lib.splitString "." r) == 3
          ) releases;
        in
        if lib.length (lib.splitString "." version) == 3 then
          version
        else if patches == [ ] then
          throw "benchmark.rust: rust-overlay knows no release ${version}.x; update the rust-overlay input"
        else
          lib.last (lib.sort lib.versionOlder patches);

      mkToolchain =
        extensions: p:
        let
          rustBin = rust-overlay.lib.mkRustBin { } p;
          release = resolve rustBin cfg.version;
        in
        (rustBin.stable.${release} or (throw "benchmark.rust: no Rust ${release} in rust-overlay")).minimal.override
          {
            inherit extensions;
            inherit (cfg) targets;
          };
    in
    {
      options.benchmark.rust = {
        manifest = mkOption {
          type = types.path;
          default = "${self}/Cargo.toml";
          defaultText = lib.literalExpression ''"''${self}/Cargo.toml"'';
          description = "Cargo.toml whose `rust-version` pins the toolchain.";
        };
        version = mkOption {
          type = types.str;
          default = msrvOf cfg.manifest;
          defaultText = lib.literalMD "`rust-version` of `benchmark.rust.manifest`";
          example = "1.89";
          description = ''
            Rust release to pin. A two-part version takes the newest patch release of it
            that the locked rust-overlay knows.
          '';
        };
        extensions = mkOption {
          type = types.listOf types.str;
          default = [
            "clippy"
            "rustfmt"
          ];
          description = "Components added to the minimal profile for builds and checks.";
        };
        devExtensions = mkOption {
          type = types.listOf types.str;
          default = [
            "rust-src"
            "rust-analyzer"
          ];
          description = "Further components of the devshell's toolchain.";
        };
        targets = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "x86_64-unknown-linux-musl" ];
          description = "Extra rust-std targets.";
        };
        toolchain = mkOption {
          type = types.package;
          readOnly = true;
          description = "The pinned toolchain that builds and checks use.";
        };
        devToolchain = mkOption {
          type = types.package;
          readOnly = true;
          description = "The same release with `devExtensions`, for the devshell.";
        };
        craneLib = mkOption {
          type = types.lazyAttrsOf types.raw;
          readOnly = true;
          description = "crane's library on the pinned toolchain.";
        };
        devCraneLib = mkOption {
          type = types.lazyAttrsOf types.raw;
          readOnly = true;
          description = "crane's library on the devshell's toolchain (for `devShell`).";
        };
      };

      config.benchmark.rust = {
        toolchain = mkToolchain cfg.extensions pkgs;
        devToolchain = mkToolchain (cfg.extensions ++ cfg.devExtensions) pkgs;
        craneLib = (crane.mkLib pkgs).overrideToolchain (mkToolchain cfg.extensions);
        devCraneLib = (crane.mkLib pkgs).overrideToolchain (
          mkToolchain (cfg.extensions ++ cfg.devExtensions)
        );
      };
    }
  );
}
