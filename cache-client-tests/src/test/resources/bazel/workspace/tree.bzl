def _tree_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)
    ctx.actions.run_shell(
        outputs = [out],
        command = "mkdir -p %s/sub && echo one > %s/a.txt && echo two > %s/sub/b.txt" % (out.path, out.path, out.path),
    )
    return [DefaultInfo(files = depset([out]))]

tree = rule(implementation = _tree_impl)
