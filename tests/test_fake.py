"""The CPU fakes of tritoncompat.testing.fake work on the installed Triton release."""
import sys

import pytest
import torch
import triton
import triton.language as tl

from tritoncompat.testing import (TRITON_VERSION as V, FakeCuda, interpreter_problem,
                   run_interpreter_snippet)

# Where the launcher tuple keeps the stream, the function handle and the first kernel argument.
if V < (2, 2):
    STREAM, FUNCTION, ARGS = 5, 6, 10       # 2.1: no num_ctas / cluster dims
elif V < (3, 0):
    STREAM, FUNCTION, ARGS = 9, 10, 14      # 2.2, 2.3
else:
    STREAM, FUNCTION, ARGS = 3, 4, 9        # 3.x
PASSES_CONSTEXPRS = V >= (3, 3)             # 3.3+: constexpr values are passed to the launcher too


def make_axpb():
    # Called after the fake is installed: 2.1 binds the device functions when @triton.jit runs.
    @triton.jit
    def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * alpha + k, mask=m)
    return axpb


def launch(kern, n, dtype=torch.float32):
    x, out = torch.randn(n).to(dtype), torch.empty(n, dtype=dtype)
    ck = kern[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](x, out, n, 3, 2.5, BLOCK=128)
    return ck, x, out


def test_native_launch_reaches_fake_launcher(fake_cuda):
    ck, x, out = launch(make_axpb(), 1000)
    assert len(fake_cuda.calls) == 1
    args = fake_cuda.calls[0]
    assert args[:3] == (8, 1, 1)
    assert args[STREAM] == 0x5EA
    assert [(h, d) for _, h, d in fake_cuda.loaded] == [(args[FUNCTION], 0)]
    assert fake_cuda.loaded[0][0].startswith("axpb")
    tail = (x, out, 1000, 3, 2.5) + ((128,) if PASSES_CONSTEXPRS else ())
    assert len(args) == ARGS + len(tail)
    assert args[ARGS] is x and args[ARGS + 1] is out and args[ARGS + 2:] == tail[2:]
    assert len(ck.asm["cubin"]) > 1000          # ptxas from the wheel ran
    assert "sm_90" in ck.asm["ptx"]
    # replay through the compiled kernel's own launcher, as a fast launch path would
    (ck.c_wrapper if V < (2, 3) else ck.run)(*args)
    assert fake_cuda.calls[1] == args


def test_each_specialization_gets_its_own_handle(fake_cuda):
    kern = make_axpb()
    launch(kern, 1024)                      # n % 16 == 0: specialized as divisible by 16
    launch(kern, 1000)                      # not divisible: a second compile
    launch(kern, 1000, torch.float16)       # another dtype: a third
    launch(kern, 1024)                      # cache hit: the first kernel again
    handles = [c[FUNCTION] for c in fake_cuda.calls]
    assert len(set(handles[:3])) == 3 and handles[3] == handles[0]
    assert [h for _, h, _ in fake_cuda.loaded] == handles[:3]


def test_device_and_stream_reach_the_launcher(fake_cuda):
    kern = make_axpb()
    fake_cuda.stream = 0xBEEF
    launch(kern, 1000)
    fake_cuda.set_current_device(1)         # the kernel caches are per device: loaded again
    launch(kern, 1000)
    fake_cuda.device = 0
    launch(kern, 1000)
    c0, c1, c2 = fake_cuda.calls
    assert (c0[STREAM], c1[STREAM], c2[STREAM]) == (0xBEEF, 0x5EB, 0xBEEF)
    assert [d for *_, d in fake_cuda.loaded] == [0, 1]
    assert c0[FUNCTION] == c2[FUNCTION] != c1[FUNCTION]
    with pytest.raises(ValueError):
        fake_cuda.set_current_device(2)


def _state():
    """Everything the fake replaces, by identity."""
    if V >= (3, 0):
        from triton.backends import backends
        return [dict(vars(sys.modules["triton.runtime.driver"].driver)), dict(backends)]
    jit, comp = sys.modules["triton.runtime.jit"], sys.modules["triton.compiler.compiler"]
    proxy = vars(sys.modules["triton.runtime.driver"].driver)
    state = [proxy["_obj"], proxy["_init_fn"], jit.JITFunction.__dict__["_device_of"]]
    if V >= (2, 3):
        import triton.compiler.backends.cuda as cuda_backend
        return state + [cuda_backend.make_stub]
    return state + [dict(vars(jit)), dict(vars(comp))]


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(a[k] is b[k] for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a is b


def test_uninstall_restores_everything():
    before = _state()
    with FakeCuda() as outer:
        changed = _state()
        assert not _same(before, changed)
        with FakeCuda() as inner:           # nested: launches go to the innermost
            launch(make_axpb(), 1000)
        assert _same(_state(), changed)
        launch(make_axpb(), 1000)
    # identical, by identity; on 3.5+ this also shows that the real driver was never built
    # (reading driver.active would have set _default/_active)
    assert _same(_state(), before)
    assert (len(inner.calls), len(outer.calls)) == (1, 1)


def _driver_slot():
    """What Triton holds as its driver object right now, read without creating one."""
    config = vars(sys.modules["triton.runtime.driver"].driver)
    if V < (3, 0):
        return config["_obj"]                       # 2.x: the LazyProxy's target
    if "_active" in config:
        return config["_active"]                    # 3.5+: None until driver.active creates it
    return vars(config["active"]).get("_obj")       # 3.0-3.4: the LazyProxy's target


def test_triton_creates_the_fake_driver_lazily_on_first_use():
    # As in a fresh process: installing creates no driver; Triton creates it when it first needs
    # one (a launch, or driver.active on 3.x), once, and keeps it.
    with FakeCuda() as fc:
        assert fc.drivers_created == 0 and fc.driver is None and _driver_slot() is None
        kern = make_axpb()
        assert fc.drivers_created == 0
        launch(kern, 1000)
        assert fc.drivers_created == 1 and _driver_slot() is fc.driver
        launch(kern, 1000)
        if V >= (3, 0):
            active = sys.modules["triton.runtime.driver"].driver.active
            assert active is fc.driver or vars(active).get("_obj") is fc.driver   # 3.0-3.4: the LazyProxy
        assert fc.drivers_created == 1 and len(fc.calls) == 2


def test_kernels_outlive_their_fake():
    with FakeCuda():
        kern = make_axpb()
        ck, *_ = launch(kern, 1000)
    launcher = ck.c_wrapper if V < (2, 3) else ck.run
    with pytest.raises(RuntimeError, match="no FakeCuda installed"):
        launcher(1, 2, 3)
    if hasattr(type(ck), "__del__"):        # 3.8+: unloads through driver.active, now the real one
        ck.__del__()                        # ... and must not raise: see tritoncompat.testing.fake._FAKE_MODULES
    with FakeCuda() as fc:                  # the cached kernel records into the current fake
        launch(kern, 1000)
    assert len(fc.calls) == 1 and not fc.loaded


VADD = '''
@jit
def vadd(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)

def main():
    x, y, out = torch.arange(1000.0), torch.full((1000,), 0.5), torch.zeros(1000)
    vadd[(triton.cdiv(1000, 128),)](x, y, out, 1000, BLOCK=128)
    assert torch.equal(out, x + 0.5), out[:8]
    print("VADD_OK", float(out.sum()))

main()
'''


@pytest.mark.skipif(interpreter_problem() is not None, reason=str(interpreter_problem()))
def test_interpreter_snippet_vector_add():
    r = run_interpreter_snippet(VADD)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["VADD_OK", str(sum(range(1000)) + 500.0)]
