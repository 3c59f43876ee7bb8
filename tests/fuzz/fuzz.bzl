"""rackboot_fuzz_target: a libFuzzer target that is also a regression test.

rackboot_fuzz_target(
    name = "dhcp_message_fuzzer",
    srcs = ["dhcp_message_fuzzer.cc"],   # defines LLVMFuzzerTestOneInput
    deps = [":dhcp_message"],
    seeds = ["//tests/data:dhcp"],        # filegroups of seed inputs
    seed_dirs = ["tests/data/dhcp"],      # where those files are, from the workspace root
)

makes the binary `name` and the test `name_test`. Under `--config=fuzz` (clang 14) the binary
is a libFuzzer fuzzer with ASan and UBSan and the test fuzzes for 30 s; in every other
configuration it links tests/fuzz/standalone_fuzz_main.cc and the test replays the seeds.
"""

def rackboot_fuzz_target(name, srcs, deps = [], seeds = [], seed_dirs = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//tests/fuzz:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:standalone_fuzz_main"],
        }),
        linkopts = select({
            "//tests/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        testonly = True,
        **kwargs
    )
    native.sh_test(
        name = name + "_test",
        srcs = ["//tests/fuzz:run_fuzzer.sh"],
        # Directories, not $(locations): a seed filegroup may be empty on a fresh checkout.
        args = ["$(location :%s)" % name] + seed_dirs,
        data = [":" + name] + seeds,
        size = "medium",
        tags = ["fuzz"],
    )
