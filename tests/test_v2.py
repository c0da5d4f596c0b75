"""The 2.x backends (v2_1, v2_2, v2_3): what only Triton 2.1-2.3 do, on the CPU fake driver.

patch() on 2.1 (``run`` is an instance attribute), the ``device=``/``stream=`` keywords (2.1-2.2
accept them, 2.3 asserts them away), the %8 bit of the 2.2-2.3 key, launch hooks called with the
whole launcher tuple, 2.1's defaults, the device-type inference of 2.1-2.2, and the slow paths.
"""

import inspect

import pytest
import torch
import triton
import triton.language as tl
from hypothesis import given
from hypothesis import strategies as st

import tritoncompat
from tritoncompat import _launch, _version
from tritoncompat.backends import _common

import corpus

V = corpus.V
BACKEND = _version.detect().backend
pytestmark = [pytest.mark.triton, pytest.mark.skipif(BACKEND not in ("v2_1", "v2_2", "v2_3"),
                                                     reason=f"2.x backends only (triton {triton.__version__})")]
V2_1 = pytest.mark.skipif(BACKEND != "v2_1", reason="2.1 only")
V2_2 = pytest.mark.skipif(BACKEND != "v2_2", reason="2.2 only")
V2_3 = pytest.mark.skipif(BACKEND != "v2_3", reason="2.3 only")
DEVICE_KWARGS = pytest.mark.skipif(BACKEND == "v2_3", reason="2.3 has no device=/stream= keywords")


def layout():
    return _launch.backend().module.LAUNCHER_LAYOUT


def make_kernel():
    """A fresh kernel (decorated under the fake: 2.1 binds the device functions at decoration)."""

    @triton.jit
    def scale(x_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr = 64):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * alpha, mask=m)

    return scale


def tensors():
    return torch.randn(256), torch.empty(256)


class Half(float):
    """A float subclass: Triton's key rejects it, and 2.1 writes str(default) into its run."""


HALF = Half(0.5)


# ---------------------------------------------------------------- patch() on 2.1


@V2_1
def test_patch_reaches_kernels_decorated_before_and_after_and_unpatch_restores_them(fake_cuda):
    from triton.runtime.jit import JITFunction

    before = make_kernel()
    generated = vars(before)["run"]  # 2.1: the run Triton generated, an instance attribute
    assert before.run is generated
    x, out = tensors()
    with tritoncompat.patched():
        after = make_kernel()
        assert vars(after)["run"].__globals__["self"] is after  # __init__ still stored Triton's run
        assert vars(before)["run"] is generated  # no instance was touched
        for kernel in (before, after):
            assert kernel.run is not vars(kernel)["run"]
            kernel[(4,)](x, out, 256, 2.0)  # miss
            hits = tritoncompat.cache_info().hits
            kernel[(4,)](x, out, 256, 2.0)
            kernel.run(x, out, 256, 2.0, grid=(4,))  # the autotuner's way in: self.fn.run(...)
            assert tritoncompat.cache_info().hits == hits + 2
    assert "run" not in vars(JITFunction) and "__getitem__" not in vars(JITFunction)
    assert before.run is generated
    assert after.run is vars(after)["run"] and after.run.__globals__["self"] is after
    hits = tritoncompat.cache_info().hits
    before[(4,)](x, out, 256, 2.0)  # Triton's own path again
    after.run(x, out, 256, 2.0, grid=(4,))
    assert tritoncompat.cache_info().hits == hits


@V2_1
def test_patched_warmup_goes_native_without_launching(fake_cuda):
    kernel = make_kernel()
    x, out = tensors()
    with tritoncompat.patched():
        compiled = kernel.warmup(x, out, 256, 2.0, grid=(4,))
    assert not fake_cuda.calls
    assert tritoncompat.cache_info().fallbacks == {"warmup": 1}
    assert kernel[(4,)](x, out, 256, 2.0) is compiled


@V2_1
def test_defaults_are_the_ones_the_generated_run_applies(fake_cuda):
    # str(HALF) is "0.5": 2.1's generated run applies the float 0.5, not HALF
    @triton.jit
    def scaled(x_ptr, out_ptr, n, alpha=HALF, BLOCK: tl.constexpr = 64):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) * alpha, mask=offs < n)

    x, out = tensors()
    scaled[(1,)](x, out, 64)
    native = fake_cuda.calls[-1]
    tritoncompat.launch(scaled, (1,), x, out, 64)
    tritoncompat.launch(scaled, (1,), x, out, 64)
    assert tritoncompat.cache_info().hits == 1 and not tritoncompat.cache_info().fallbacks
    last = fake_cuda.calls[-1]
    assert type(last[-1]) is type(native[-1]) is float and last[-1] == native[-1] == 0.5


# ---------------------------------------------------------------- device= / stream=


@DEVICE_KWARGS
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_explicit_stream_and_device(fake_cuda, via):
    """Patched calls with device=/stream= go through Triton's own path (2.1-2.2 take them
    natively); launch() takes them on the fast path, for this
    launch only, and picks the compiled kernels Triton picks."""
    kernel = make_kernel()
    x, out = tensors()
    slot = layout()["stream_slot"]

    def ours(**kwargs):
        if via == "launch":
            return tritoncompat.launch(kernel, (4,), x, out, 256, 2.0, **kwargs)
        with tritoncompat.patched():
            return kernel[(4,)](x, out, 256, 2.0, **kwargs)

    native = kernel[(4,)](x, out, 256, 2.0, stream=0xABC)
    assert fake_cuda.calls[-1][slot] == 0xABC
    assert ours(stream=0xABC) is native
    assert fake_cuda.calls[-1][slot] == 0xABC
    assert ours(stream=0xABC) is native
    native1 = kernel[(4,)](x, out, 256, 2.0, device=1)  # compiled for device 1
    fake_cuda.set_current_device(0)
    assert ours(device=1) is native1 and native1 is not native
    assert ours(device=1) is native1
    info = tritoncompat.cache_info()
    if via == "patched":
        fake_cuda.set_current_device(0)
        assert info.fallbacks == {"explicit stream=": 2, "explicit device=": 2} and info.entries == 0
    else:
        assert fake_cuda.device == 0
        assert not info.fallbacks and info.entries == 2 and info.hits == 2, info
    hits = info.hits
    ours()  # without them: the fast path
    ours()
    assert tritoncompat.cache_info().hits == hits + (1 if via == "patched" else 2)
    assert fake_cuda.calls[-1][slot] == fake_cuda.stream


@DEVICE_KWARGS
def test_launch_warmup_compiles_without_launching(fake_cuda):
    kernel = make_kernel()
    x, out = tensors()
    compiled = tritoncompat.launch(kernel, (4,), x, out, 256, 2.0, warmup=True)
    assert not fake_cuda.calls and tritoncompat.cache_info().fallbacks == {"warmup": 1}
    assert kernel[(4,)](x, out, 256, 2.0) is compiled


@V2_3
@pytest.mark.parametrize("name", ["stream", "device", "device_type"])
@pytest.mark.parametrize("via", ["native", "launch", "patched"])
def test_2_3_rejects_device_and_stream_keywords(fake_cuda, name, via):
    """2.3 asserts on device=/stream=/device_type=; patched calls too. launch() takes stream=
    and device= on every release (tests/test_placement.py), and passes device_type= to Triton."""
    kernel = make_kernel()
    x, out = tensors()
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)  # an entry exists for the plain call
    if via == "launch" and name != "device_type":
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0, **{name: 0})
        assert tritoncompat.cache_info().entries == 1 and tritoncompat.cache_info().hits == 1
        return
    with pytest.raises(AssertionError, match=f"{name} option is deprecated"):
        if via == "native":
            kernel[(4,)](x, out, 256, 2.0, **{name: 0})
        elif via == "launch":
            tritoncompat.launch(kernel, (4,), x, out, 256, 2.0, **{name: 0})
        else:
            with tritoncompat.patched():
                kernel[(4,)](x, out, 256, 2.0, **{name: 0})
    assert tritoncompat.cache_info().entries == 1 and tritoncompat.cache_info().hits == 0


# ---------------------------------------------------------------- the key


@pytest.mark.parametrize("n", [8, 12, 16, 24, 1])
def test_mod8_bit_reaches_the_kernel_triton_compiled(fake_cuda, n):
    """2.2-2.3 compile n=8 and n=12 differently (divisible by 8 or not); 2.1 does not."""
    kernel = make_kernel()
    x, out = tensors()
    function = layout()["function_slot"]
    handles = {}
    for value in (4, n):
        for _ in range(2):  # miss, then hit (verified against Triton's own key)
            tritoncompat.launch(kernel, (1,), x, out, value, 2.0)
        handles[value] = fake_cuda.calls[-1][function]
        kernel[(1,)](x, out, value, 2.0)
        assert fake_cuda.calls[-1][function] == handles[value]
    triton_splits = n % 16 == 0 or n == 1 or (BACKEND != "v2_1" and n % 8 == 0)
    assert (handles[n] != handles[4]) == triton_splits
    assert tritoncompat.cache_info().entries == (2 if triton_splits else 1)


def triton_int_key(v):
    """Triton's own key components of an unannotated int argument on this release."""
    from triton.runtime.jit import JITFunction

    if BACKEND == "v2_1":
        return JITFunction._key_of(v), (v % JITFunction.divisibility == 0, v == 1)
    from triton.runtime.jit import KernelArg, KernelParam

    param = KernelParam(0, inspect.Parameter("n", inspect.Parameter.POSITIONAL_OR_KEYWORD), False)
    arg = KernelArg(v, param)
    return arg.signature_key(), arg.specialization_key()


INTS = st.integers(-(2**64), 2**64) | st.sampled_from([1, 0, 8, 12, 16, 24, -8, 2**31 - 8, 2**31, 2**63, 2**64 - 8])


@given(a=INTS, b=INTS)
def test_int_code_refines_tritons_int_key(a, b):
    code = _common.INT_CODE if BACKEND == "v2_1" else _common.INT_CODE_MOD8
    ca, cb = (eval(code.format(v="v"), {"v": v}) for v in (a, b))
    if ca == cb:
        assert triton_int_key(a) == triton_int_key(b)
    if BACKEND != "v2_1":
        assert ca == _common.int_code_mod8(a)


def test_key_probe_finds_the_native_key_without_rehashing_it():
    from tritoncompat.backends._v2 import KeyProbe

    class Key(tuple):
        hashed = 0

        def __hash__(self):
            Key.hashed += 1
            return tuple.__hash__(self)

    key = Key((torch.float32, "i32", (True, False)))
    native = {key: "compiled"}
    probe = KeyProbe(key)
    Key.hashed = 0
    assert native.get(probe) == "compiled" and Key.hashed == 0
    native.clear()
    native[Key(tuple(key))] = "recompiled"  # an equal key, another object
    assert native.get(probe) == "recompiled"
    native.clear()
    assert native.get(probe) is None


# ---------------------------------------------------------------- launch details


def test_installed_hooks_get_what_triton_gives_them(fake_cuda):
    from triton.compiler.compiler import CompiledKernel

    kernel = make_kernel()
    x, out = tensors()
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    # The C launcher calls them with its whole argument tuple (the fake launcher only records).
    CompiledKernel.launch_enter_hook = lambda *args: None
    CompiledKernel.launch_exit_hook = lambda *args: None
    try:
        kernel[(4,)](x, out, 256, 2.0)
        native = fake_cuda.calls[-1]
        hits = tritoncompat.cache_info().hits
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
        fast = fake_cuda.calls[-1]
        assert tritoncompat.cache_info().hits == hits + 1
    finally:
        CompiledKernel.launch_enter_hook = CompiledKernel.launch_exit_hook = None
    enter, leave = layout()["hook_slots"]
    assert fast[enter] is native[enter] and fast[leave] is native[leave] and fast[enter] is not None
    assert len(fast) == len(native) and all(a is b for a, b in zip(fast, native) if hasattr(b, "data_ptr"))
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    assert fake_cuda.calls[-1][enter] is None and fake_cuda.calls[-1][leave] is None


@pytest.mark.parametrize("how", ["cleared", "replaced"])
def test_native_entry_dropped_or_replaced_goes_native_again(fake_cuda, how):
    """The per-device dict stays, the entry under the native key changes: a hit must notice."""
    kernel = make_kernel()
    x, out = tensors()
    first = tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    device_cache = kernel.cache[fake_cuda.device]
    if how == "cleared":
        device_cache.clear()
    else:
        other = tritoncompat.launch(kernel, (4,), x, out, 255, 2.0)  # another specialization
        device_cache[next(k for k, v in device_cache.items() if v is first)] = other
    misses = tritoncompat.cache_info().misses
    second = tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    assert tritoncompat.cache_info().misses == misses + 1
    assert (second is not first) if how == "cleared" else (second is other)
    hits = tritoncompat.cache_info().hits
    assert tritoncompat.launch(kernel, (4,), x, out, 256, 2.0) is second
    assert tritoncompat.cache_info().hits == hits + 1


def test_grid_callable_runs_once_per_launch_under_verify(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_VERIFY", "1")
    _launch.reload()
    kernel = make_kernel()
    x, out = tensors()
    calls = []

    def grid(meta):
        calls.append(meta)
        return (4,)

    assert _launch.backend().config.verify
    for expected in (1, 2, 3):
        tritoncompat.launch(kernel, grid, x, out, 256, 2.0)
        assert len(calls) == expected
    assert tritoncompat.cache_info().hits == 2


def test_uncacheable_compiled_kernel_goes_native(fake_cuda):
    """A compiled kernel with TMA descriptors (2.2-2.3) or for another device type (2.1)."""
    kernel = make_kernel()
    x, out = tensors()
    compiled = kernel[(4,)](x, out, 256, 2.0)
    if BACKEND == "v2_1":
        compiled.device_type = "xpu"
        reason = "device type xpu"
    elif BACKEND == "v2_2":
        compiled.tensormaps_info = ["descriptor"]
        compiled.assemble_tensormap_to_arg = lambda args: list(args)  # the fake has no TMA
        reason = "tensormap arguments"
    else:
        compiled.metadata["tensormaps_info"] = ["descriptor"]  # the fake driver appends nothing
        reason = "tensormap arguments"
    for _ in range(3):
        assert tritoncompat.launch(kernel, (4,), x, out, 256, 2.0) is compiled
    info = tritoncompat.cache_info()
    assert info.hits == 0 and info.entries == 0 and info.fallbacks == {reason: 2}


def test_launches_follow_a_replaced_driver(fake_cuda):
    from tritoncompat.testing import FakeCuda

    kernel = make_kernel()
    x, out = tensors()
    slot = layout()["stream_slot"]
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    with FakeCuda() as inner:
        inner.stream = 0xF00
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    assert [c[slot] for c in inner.calls] == [0xF00, 0xF00]
    # 2.3 binds the driver object (rebuilt, counted); 2.1-2.2's functions read the current fake
    assert tritoncompat.cache_info().fallbacks == ({"driver changed": 1} if BACKEND == "v2_3" else {})


@pytest.mark.skipif(BACKEND == "v2_3", reason="2.3 infers no device type")
def test_device_type_inference_with_tritons_own_device_of(fake_cuda, monkeypatch):
    """With Triton's own _device_of, CPU tensors make Triton look for a "cpu" backend and fail:
    the fast path must not launch them either (the fake reports every tensor as CUDA)."""
    from triton.runtime.jit import JITFunction

    x, out = tensors()
    kernel = make_kernel()
    if BACKEND == "v2_2":  # 2.2 looks _device_of up on every launch: a launcher must notice the change
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
        tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
        assert tritoncompat.cache_info().hits == 1
    original = next(value for owner, name, value in fake_cuda._saved if name == "_device_of")
    monkeypatch.setattr(JITFunction, "_device_of", original)
    if BACKEND == "v2_1":  # 2.1 binds _device_of when decorating
        kernel = make_kernel()
    with pytest.raises(ValueError, match="Cannot find backend for cpu"):
        kernel[(4,)](x, out, 256, 2.0)
    for _ in range(2):
        with pytest.raises(ValueError, match="Cannot find backend for cpu"):
            tritoncompat.launch(kernel, (4,), x, out, 256, 2.0)
    assert tritoncompat.cache_info(kernel).entries == 0
    assert ".is_cuda" in inspect.getsource(vars(kernel)[_launch.ATTR])


def test_patched_jit_function_subclass_goes_native(fake_cuda):
    from triton.runtime.jit import JITFunction

    class Subclass(JITFunction):
        pass

    kernel = Subclass(make_kernel().fn)
    x, out = tensors()
    native = kernel[(4,)](x, out, 256, 2.0)
    with tritoncompat.patched():
        assert kernel[(4,)](x, out, 256, 2.0) is native
    assert sum(tritoncompat.cache_info().fallbacks.values()) == 1
