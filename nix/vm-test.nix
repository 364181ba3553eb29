# The image proven inside `nix flake check` (Linux): a NixOS VM boots Docker, loads
# bench-image, runs it with an output volume, validates the perf.json it writes against
# `benchmark schema`, and runs the integration tests marked "needs a Docker daemon".
_: {
  perSystem =
    {
      config,
      lib,
      pkgs,
      ...
    }:
    let
      inherit (config.benchmark.rust) craneLib;
      # not through config.packages: the devshell takes the checks, and the cache prewarm
      # set (which decides whether packages has cache-prewarm) takes the devshell
      benchmark = config.benchmark.package;
      bench-image = config.benchmark.mkImage { };
      crate = benchmark.passthru;

      # The `cli` integration-test binary, and the path it was built to run the benchmark
      # binary from (CARGO_BIN_EXE_benchmark, a build directory): the VM links it there.
      cliTests = craneLib.mkCargoDerivation (
        crate.commonArgs
        // {
          inherit (crate) cargoArtifacts;
          pnameSuffix = "-cli-tests";
          doCheck = false;
          nativeBuildInputs = [ pkgs.jq ];
          buildPhaseCargoCommand = ''
            cargo test --locked --profile release --test cli --no-run \
              --message-format json-render-diagnostics > cargo-test.json
          '';
          installPhaseCommand = ''
            mkdir -p $out/bin
            cp "$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "cli" and .profile.test) | .executable' cargo-test.json)" $out/bin/cli-tests
            jq -r 'select(.reason == "compiler-artifact" and .target.name == "benchmark" and .target.kind == ["bin"]) | .executable' cargo-test.json > $out/benchmark-bin-path
          '';
        }
      );

      ref = "${bench-image.imageName}:${bench-image.imageTag}";
    in
    {
      checks = lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
        bench-image-vm = pkgs.testers.runNixOSTest {
          name = "bench-image";
          nodes.machine = {
            virtualisation = {
              docker.enable = true;
              diskSize = 4096;
              memorySize = 2048;
              cores = 2;
            };
            environment.systemPackages = [
              pkgs.check-jsonschema
              pkgs.jq
            ];
          };
          testScript = ''
            machine.wait_for_unit("docker.service")

            with subtest("the image loads and runs with an output volume"):
                machine.succeed("docker load < ${bench-image}")
                machine.succeed("mkdir -p /tmp/out && chmod 0777 /tmp/out")
                machine.succeed("docker run --rm -v /tmp/out:/workspace/output ${ref} >&2")
                machine.succeed("test -n \"$(find /tmp/out -name 'run_*.json' -print -quit)\"")

            with subtest("perf.json is valid against benchmark schema"):
                machine.succeed("${lib.getExe benchmark} schema > /tmp/schema.json")
                machine.succeed("check-jsonschema --schemafile /tmp/schema.json /tmp/out/perf.json")
                machine.succeed("${lib.getExe benchmark} schema run > /tmp/run-schema.json")
                machine.succeed("check-jsonschema --schemafile /tmp/run-schema.json /tmp/out/run_1.json")
                machine.succeed("jq -e '.steps | length > 0' /tmp/out/perf.json")

            with subtest("the tests that need a Docker daemon pass"):
                machine.succeed("bin=$(cat ${cliTests}/benchmark-bin-path) && mkdir -p \"$(dirname \"$bin\")\" && ln -sfn ${lib.getExe benchmark} \"$bin\"")
                machine.succeed("mkdir -p /bin && ln -sfn ${pkgs.pkgsStatic.busybox}/bin/busybox /bin/busybox")
                machine.succeed("cd /tmp && ${cliTests}/bin/cli-tests --ignored docker:: --test-threads=1 >&2")
          '';
        };
      };
    };
}
