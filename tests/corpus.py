"""The kernel corpus of the conformance suite, with the argument sets each is launched with.

Kernels are built by :func:`build` (after the fake driver is installed: 2.1 captures globals at
decoration) and cached per process. Each case is ``(name, kernel, grid, args, kwargs)``.
"""



import torch
import triton
import triton.language as tl

V = tuple(int(p) for p in triton.__version__.split("+")[0].split(".")[:2])
TUPLES = V >= (3, 3)  # tuple arguments: 3.3+

SCALE = tl.constexpr(2)  # a global the compiled kernel uses: Triton's guard checks it per launch
# 2.1 writes str(default) into the run it generates: a str default must be valid Python there
ACT_NONE = "none" if V >= (2, 2) else None

_built = {}


def own_launch_expected():
    """Whether this process's hits launch at the driver (the own launch: the accelerator on, a
    modelled launcher, TRITONCOMPAT_DIRECT not 0)."""
    from tritoncompat import _accel
    from tritoncompat.backends import _direct

    return _accel.load() is not None and _direct.enabled() and _direct.model()[1] is not None


def build():
    """The corpus kernels. One set while a fake driver is installed and another without one: on a
    GPU machine both kinds of test run, and Triton's cache must not hand a kernel compiled for
    the fake driver to the real one (or the reverse)."""
    from tritoncompat.testing import fake as _fake

    mode = "fake" if _fake._ACTIVE else "real"
    if mode in _built:
        return _built[mode]

    @triton.jit
    def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr = 128):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * alpha + k, mask=m)

    @triton.jit
    def strided(a_ptr, b_ptr, c_ptr, out_ptr, stride_a, stride_b, stride_c, stride_out, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        acc = tl.load(a_ptr + offs * stride_a, mask=m) + tl.load(b_ptr + offs * stride_b, mask=m)
        acc += tl.load(c_ptr + offs * stride_c, mask=m)
        tl.store(out_ptr + offs * stride_out, acc, mask=m)

    @triton.jit
    def ints(out_ptr, a, b, c, d, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, (a + b + c + d).to(tl.float32) + offs.to(tl.float32))

    @triton.jit
    def scalars(out_ptr, f, flag, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        v = tl.where(flag, f, -f)
        tl.store(out_ptr + offs, v + offs.to(tl.float32), mask=offs < n)

    @triton.jit
    def optional_bias(x_ptr, bias_ptr, out_ptr, n, HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr = 64):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        x = tl.load(x_ptr + offs, mask=m)
        if HAS_BIAS:
            x += tl.load(bias_ptr + offs, mask=m)
        tl.store(out_ptr + offs, x, mask=m)

    @triton.jit
    def activation(x_ptr, out_ptr, n, BLOCK: tl.constexpr, ACT: tl.constexpr = ACT_NONE, SLOPE: tl.constexpr = 0.0):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        x = tl.load(x_ptr + offs, mask=m)
        if ACT == "leaky":
            x = tl.where(x > 0, x, x * SLOPE)
        tl.store(out_ptr + offs, x, mask=m)

    @triton.jit
    def cast(x_ptr, out_ptr, n, OUT_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m).to(OUT_DTYPE), mask=m)

    @triton.jit
    def grid3(out_ptr, nx, ny, BLOCK: tl.constexpr):
        pid = tl.program_id(0) + tl.program_id(1) * nx + tl.program_id(2) * nx * ny
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, offs.to(tl.float32))

    @triton.jit
    def scaled(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * SCALE, mask=m)

    @triton.jit(do_not_specialize=["n"])
    def no_spec(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m), mask=m)

    @triton.jit
    def prop(x_ptr, out_ptr, a, b, c, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs))

    @triton.autotune(configs=[triton.Config({"BLOCK": 64}, num_warps=2), triton.Config({"BLOCK": 128}, num_warps=4)],
                     key=["n"])
    @triton.jit
    def tuned(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1.0, mask=m)

    @triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
    @triton.jit
    def heuristic(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        if EVEN:
            tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 3.0)
        else:
            m = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * 3.0, mask=m)

    kernels = dict(axpb=axpb, strided=strided, ints=ints, scalars=scalars, optional_bias=optional_bias,
                   activation=activation, cast=cast, grid3=grid3, scaled=scaled, no_spec=no_spec, prop=prop,
                   tuned=tuned, heuristic=heuristic)

    if TUPLES:
        @triton.jit
        def tuple_args(ptrs, sizes, out_ptr, BLOCK: tl.constexpr):
            offs = tl.arange(0, BLOCK)
            acc = tl.load(ptrs[0] + offs) + tl.load(ptrs[1] + offs)
            tl.store(out_ptr + offs, acc + sizes[0] + sizes[1])

        kernels["tuple_args"] = tuple_args
    _built[mode] = kernels
    return kernels


CASE_NAMES = [
    "axpb callable grid", "axpb default via kw", "axpb constexpr kw", "axpb options", "axpb misaligned",
    "axpb fp16", "strided", "ints i32", "ints i64/u64", "ints ones", "scalars", "scalars false", "bias",
    "no bias (None)", "activation default", "activation kw constexprs", "cast dtype constexpr", "grid 3d",
    "global constexpr", "do_not_specialize",
] + (["tuple args"] if TUPLES else [])


def case(name, device="cpu"):
    """One case by name (builds the kernels: call it after the fake driver is installed)."""
    return next(c for c in cases(device) if c[0] == name)


def cdiv(a, b):
    return (a + b - 1) // b


def cases(device="cpu"):
    """Every corpus case; tensors are fresh each call (identity is compared per launch)."""
    k = build()
    t = lambda n=1024, dtype=torch.float32: torch.randn(n, device=device).to(dtype)  # noqa: E731
    n = 1000
    out = []
    x = t()
    out += [
        ("axpb callable grid", k["axpb"], lambda m: (cdiv(n, m["BLOCK"]),), (x, t(), n, 3, 2.5), {}),
        ("axpb default via kw", k["axpb"], (8,), (), dict(x_ptr=x, out_ptr=t(), n=1024, k=1, alpha=0.5)),
        ("axpb constexpr kw", k["axpb"], [4], (x, t(), n, -7, 1.0), dict(BLOCK=256)),
        ("axpb options", k["axpb"], (8,), (x, t(), n, 3, 2.5), dict(num_warps=2, num_stages=2)),
        ("axpb misaligned", k["axpb"], (8,), (x[1:], t()[3:], n - 3, 3, 2.5), {}),
        ("axpb fp16", k["axpb"], (8,), (t(dtype=torch.float16), t(dtype=torch.float16), n, 3, 2.5), {}),
        ("strided", k["strided"], (16,), (t(2048), t(2048), t(2048), t(2048), 2, 1, 1, 2, 512), dict(BLOCK=32)),
        ("ints i32", k["ints"], (1,), (t(64), 16, 17, -1, 0), dict(BLOCK=64)),
        ("ints i64/u64", k["ints"], (1,), (t(64), 2**31, 2**40, 2**63, 2**31 - 1), dict(BLOCK=64)),
        ("ints ones", k["ints"], (1,), (t(64), 1, 1, 2, 1), dict(BLOCK=64)),
        ("scalars", k["scalars"], (1,), (t(64), 0.5, True, 64), dict(BLOCK=64)),
        ("scalars false", k["scalars"], (1,), (t(64), -1.5, False, 1), dict(BLOCK=64)),
        ("bias", k["optional_bias"], (16,), (x, t(), t(), n, True), {}),
        ("no bias (None)", k["optional_bias"], (16,), (x, None, t(), n, False), {}),
        ("activation default", k["activation"], (4,), (x, t(), n), dict(BLOCK=256)),
        ("activation kw constexprs", k["activation"], (4,), (x, t(), n), dict(ACT="leaky", SLOPE=0.1, BLOCK=256)),
        ("cast dtype constexpr", k["cast"], (4,), (x, t(dtype=torch.float16), n, tl.float16, 256), {}),
        ("grid 3d", k["grid3"], (2, 3, 4), (t(2 * 3 * 4 * 32), 2, 3), dict(BLOCK=32)),
        ("global constexpr", k["scaled"], (8,), (x, t(), n), dict(BLOCK=128)),
        ("do_not_specialize", k["no_spec"], (8,), (x, t(), 1024), dict(BLOCK=128)),
    ]
    if TUPLES:
        out.append(("tuple args", k["tuple_args"], (1,), ((t(64), t(64)), (3, 16), t(64)), dict(BLOCK=64)))
    assert [c[0] for c in out] == CASE_NAMES
    return out


def wrapped_cases(device="cpu"):
    """Autotuned and heuristics kernels: fast only through patch() (their final JITFunction.run)."""
    k = build()
    x = torch.randn(1024, device=device)
    return [
        ("autotune", k["tuned"], lambda m: (cdiv(1000, m["BLOCK"]),), (x, torch.empty_like(x), 1000), {}),
        ("heuristics", k["heuristic"], (8,), (x, torch.empty_like(x), 1024), dict(BLOCK=128)),
    ]


