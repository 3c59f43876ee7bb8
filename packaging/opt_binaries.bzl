"""opt_binaries: the package's binaries, always built with -c opt.

The .deb ships optimised binaries whether the build that asks for it is the everyday fastbuild
(`bazel test //packaging:deb_install_test` in `./rackboot test`) or `./rackboot package`. A
configuration transition on the `binaries` attribute sets --compilation_mode=opt for them alone;
the files are forwarded unchanged, named by their targets' labels.
"""

def _opt_transition_impl(settings, attr):
    return {"//command_line_option:compilation_mode": "opt"}

_opt_transition = transition(
    implementation = _opt_transition_impl,
    inputs = [],
    outputs = ["//command_line_option:compilation_mode"],
)

def _opt_binaries_impl(ctx):
    files = []
    for target in ctx.attr.binaries:
        files.extend(target[DefaultInfo].files.to_list())
    return [DefaultInfo(files = depset(files))]

opt_binaries = rule(
    implementation = _opt_binaries_impl,
    attrs = {
        "binaries": attr.label_list(cfg = _opt_transition, allow_files = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
