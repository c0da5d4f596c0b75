"""Three public packages' hand-written Triton compatibility blocks, each replaced by tritoncompat
imports, with the checks of their tests on CPU: kernels compile under the fake CUDA driver on the
installed release, and their numerics match torch in the interpreter (TRITON_INTERPRET=1).

The compatibility blocks are described below (origin, path, license), not copied; the kernels
below are written here to exercise what each block fed.
"""

import functools

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
from tritoncompat.testing import TRITON_VERSION as V, interpreter_problem, run_interpreter_snippet

# --------------------------------------------------------------------------------------------
# The three blocks, described (their code is not copied into this repository: it stays in the
# public sources named here, as the workplace's rules for fetched code require):
#
# 1. liger-kernel (linkedin/Liger-Kernel, src/liger_kernel/ops/geglu.py and 8 more files of
#    liger_kernel/ops, BSD-2-Clause): a version comparison against "3.0.0", then a try/except
#    between triton.language.extra.libdevice and triton.language.extra.cuda.libdevice for
#    `tanh`, and triton.language.math before 3.0.
#    Replaced by:  import tritoncompat.language as tcl ... tcl.libdevice.tanh(x)
#
# 2. mamba-ssm (state-spaces/mamba, mamba_ssm/ops/triton/softplus.py, Apache-2.0; also in vLLM's
#    mamba ops): a TRITON3 flag from a parsed version chooses between two `softplus` helpers,
#    log(exp(x) + 1) on 3.x (log1p left tl.math in 3.0, so 3.x computes the less accurate form)
#    and log1p(exp(x)) before.
#    Replaced by one definition on every release: tcl.libdevice.log1p(tl.exp(dt))
#
# 3. flash-linear-attention (fla-org/flash-linear-attention, fla/ops/utils/op.py and
#    fla/utils/_device.py, MIT): libdevice imported from triton.language.extra (an ImportError
#    before 3.0) for fast_expf behind an environment flag; a dummy `gather` where tl.gather is
#    missing; make_tensor_descriptor taken from `_experimental_make_tensor_descriptor` (3.3) or
#    `make_tensor_descriptor` (3.4+) by hasattr, else a dummy; triton.set_allocator at import.
#    Replaced by:  exp = tcl.libdevice.fast_expf if fast else tl.exp; tcl.gather;
#                  USE_GATHER = tritoncompat.has("gather"); USE_TMA = tritoncompat.has("tensor_descriptor");
#                  tcl.make_tensor_descriptor; tritoncompat.ensure_allocator(alloc)
# --------------------------------------------------------------------------------------------

CLIENTS = '''
import tritoncompat
import tritoncompat.language as tcl


@jit
def geglu_tanh_forward(a, b, c, stride, n_cols: tl.constexpr, BLOCK_SIZE: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_SIZE)
    mask = cols < n_cols
    x = tl.load(a + row * stride + cols, mask=mask, other=0).to(tl.float32)
    y = tl.load(b + row * stride + cols, mask=mask, other=0)
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    gelu = 0.5 * x * (1 + tcl.libdevice.tanh(inner))
    tl.store(c + row * stride + cols, gelu.to(y.dtype) * y, mask=mask)


@jit
def softplus(dt):
    return tcl.libdevice.log1p(tl.exp(dt))


@jit
def softplus_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    dt = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.store(out_ptr + offs, tl.where(dt <= 20.0, softplus(dt), dt), mask=m)


FAST = True
exp = tcl.libdevice.fast_expf if FAST else tl.exp


@jit
def safe_exp(x):
    return exp(tl.where(x <= 0, x, float("-inf")))


@jit
def fla_style(x_ptr, idx_ptr, out_ptr, N: tl.constexpr, USE_TMA: tl.constexpr, USE_GATHER: tl.constexpr):
    offs = tl.arange(0, N)
    if USE_TMA:
        desc = tcl.make_tensor_descriptor(x_ptr, (N, N), (N, 1), (N, N))
        x = desc.load([0, 0])
    else:
        x = tl.load(x_ptr + offs[:, None] * N + offs[None, :])
    y = safe_exp(x)
    if USE_GATHER:
        idx = tl.load(idx_ptr + offs[:, None] * N + offs[None, :])
        y = tcl.gather(y, idx, 1)
    tl.store(out_ptr + offs[:, None] * N + offs[None, :], y)
'''


def _compiled_clients():
    # a real module: 2.x looks a kernel's globals up in sys.modules[fn.__module__]
    import sys
    import types

    module = types.ModuleType("tritoncompat_test_clients")
    module.__dict__.update(tl=tl, jit=triton.jit, triton=triton)
    sys.modules[module.__name__] = module
    path = _write(CLIENTS)
    exec(compile(open(path).read(), path, "exec"), module.__dict__)
    return module.__dict__


_FILES = []


def _write(source):
    import os
    import tempfile

    fd, path = tempfile.mkstemp(prefix="tritoncompat-clients-", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    _FILES.append(path)
    return path


def _inputs(n=32):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(4, n, generator=generator) * 3, torch.randn(4, n, generator=generator)


# 2.2's interpreter replaces every attribute of triton.language.math with a wrapper, __file__
# included, when a kernel runs; torch.testing then imports modules that inspect frames, which
# fails over that module. Importing them before any kernel runs avoids it.
WARM_TORCH = "import torch.nn.functional as F\ntorch.testing.assert_close(torch.zeros(1), torch.zeros(1))\n"


def test_clients_compile_on_this_release(fake_cuda):
    clients = _compiled_clients()
    if True:
        a, b = _inputs()
        c = torch.empty_like(a)
        ck = clients["geglu_tanh_forward"][(4,)](a, b, c, a.stride(0), n_cols=32, BLOCK_SIZE=32)
        assert "__nv_tanhf" in ck.asm["ttir"]
        dt = torch.randn(64)
        ck = clients["softplus_kernel"][(1,)](dt, torch.empty(64), 64, BLOCK=64)
        assert "__nv_log1pf" in ck.asm["ttir"]      # log1p on every release, 3.x included
        N = 16
        use_tma, use_gather = tritoncompat.has("tensor_descriptor"), tritoncompat.has("gather")
        x, idx = torch.randn(N, N), torch.randint(0, N, (N, N), dtype=torch.int32)
        with tritoncompat.allocator(lambda size, align, stream: torch.empty(size, dtype=torch.int8)):
            ck = clients["fla_style"][(1,)](x, idx, torch.empty(N, N), N=N, USE_TMA=use_tma, USE_GATHER=use_gather)
        assert "__nv_fast_expf" in ck.asm["ttir"]
        assert ("tensormap" in ck.asm["ptx"]) == use_tma
        assert len(fake_cuda.calls) == 3


CLIENTS_CHECK = '''
try:
    torch.manual_seed(0)
    a, b = torch.randn(16, 32) * 5, torch.randn(16, 32)
    c = torch.empty_like(a)
    geglu_tanh_forward[(16,)](a, b, c, a.stride(0), n_cols=32, BLOCK_SIZE=32)
    torch.testing.assert_close(c, F.gelu(a, approximate="tanh") * b, rtol=1e-5, atol=1e-5)

    dt = torch.cat([torch.linspace(-30, 30, 61), torch.tensor([-1e-6, 1e-7, 25.0])])
    out = torch.empty_like(dt)
    softplus_kernel[(1,)](dt, out, dt.numel(), BLOCK=128)
    torch.testing.assert_close(out, F.softplus(dt.double()).float(), rtol=2e-6, atol=1e-7)

    if RUN_FLA:
        N = 16
        x = torch.randn(N, N)
        idx = torch.randint(0, N, (N, N), dtype=torch.int32)
        out = torch.empty(N, N)
        fla_style[(1,)](x, idx, out, N=N, USE_TMA=False, USE_GATHER=tritoncompat.has("gather"))
        want = torch.exp(torch.where(x <= 0, x, torch.tensor(float("-inf"))))
        if tritoncompat.has("gather"):
            want = torch.gather(want, 1, idx.long())
        torch.testing.assert_close(out, want)
    print("CLIENTS OK")
except Exception as e:
    import traceback
    print("CLIENTS FAILED", repr(e), traceback.format_exc()[-2000:])
'''


@functools.lru_cache(maxsize=None)
def interpreter_run(libdevice_check):
    """One interpreter process for this file's clients and test_compat_language's libdevice
    implementations (each process imports torch and Triton: seconds on the CI machines).
    2.2 - 2.3's interpreters cannot add a 2-D block of offsets to a pointer ("cannot convert
    [[0] [16] ...] to tensor"), which fla's kernels do: there only the first two clients run."""
    out = run_interpreter_snippet(WARM_TORCH + f"RUN_FLA = {V >= (3, 0)}\n" + CLIENTS + CLIENTS_CHECK
                                  + libdevice_check)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.skipif(interpreter_problem() is not None, reason=str(interpreter_problem()))
@pytest.mark.skipif(V < (2, 2), reason="2.1's interpreter is @triton.jit(interpret=True) per kernel, which "
                                       "tcl.libdevice does not see (it resolves for TRITON_INTERPRET=1)")
def test_clients_numerics_match_torch_in_the_interpreter():
    from test_compat_language import LIBDEVICE_CHECK

    stdout = interpreter_run(LIBDEVICE_CHECK)
    assert "CLIENTS OK" in stdout, stdout[-3000:]


def teardown_module():
    import os

    for path in _FILES:
        os.unlink(path)
