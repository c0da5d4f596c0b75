"""The 3.0-3.2 backend (v3_0): what these releases key, inject and launch differently from 3.3+.

Each test launches natively and through tritoncompat and requires the same compiled kernel (and,
where it matters, the same launcher arguments); the suite's TRITONCOMPAT_VERIFY=1 also checks every
fast hit against Triton's own key.
"""

import pytest

from tritoncompat import _version

if _version.detect().backend != "v3_0":
    pytest.skip("tests of the 3.0-3.2 backend (v3_0)", allow_module_level=True)

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.compiler.compiler import CompiledKernel  # noqa: E402
from triton.runtime.jit import JITFunction  # noqa: E402

import tritoncompat  # noqa: E402
from tritoncompat import _launch  # noqa: E402

import corpus  # noqa: E402

V = corpus.V
pytestmark = [pytest.mark.triton]
# 3.0-3.1: run injects debug = fn.debug, overwriting a debug= keyword; TRITON_DEBUG is read when
# @triton.jit runs. 3.2: debug = the keyword or TRITON_DEBUG, read on every launch.
DEBUG_FROM_KERNEL = V < (3, 2)
needs_3_2 = pytest.mark.skipif(V < (3, 2), reason="3.2: per-launch TRITON_DEBUG, do_not_specialize_on_alignment")
needs_3_0_or_3_1 = pytest.mark.skipif(V >= (3, 2), reason="3.0-3.1: run injects fn.debug")


def copy_kernel(**jit_kwargs):
    """A fresh kernel (own caches, own debug attribute): defined after the fake driver is installed."""

    @triton.jit(**jit_kwargs)
    def copy(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m), mask=m)

    return copy


def layout():
    return _launch.backend().module.LAUNCHER_LAYOUT


def same_as_native(kernel, grid, *args, **kwargs):
    """Native launch, then a miss and a hit through launch(): all three pick one compiled kernel."""
    native = kernel[grid](*args, **kwargs)
    assert native is not None
    for _ in range(2):
        assert tritoncompat.launch(kernel, grid, *args, **kwargs) is native
    return native


def test_debug_keyword(fake_cuda):
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    plain = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    with_debug = same_as_native(kernel, (1,), x, out, 64, BLOCK=64, debug=True)
    if DEBUG_FROM_KERNEL:
        assert with_debug is plain  # the keyword is overwritten with fn.debug (None)
    else:
        assert with_debug is not plain and with_debug.metadata.debug
    assert tritoncompat.cache_info().hits == 2


@needs_3_0_or_3_1
def test_kernel_debug_attribute_is_in_the_key_with_its_type(fake_cuda):
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    first = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    kernel.debug = True
    debug = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    kernel.debug = 1  # == True, but Triton's key holds str(1): another native entry
    one = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    assert len({id(first), id(debug), id(one)}) == 3
    assert tritoncompat.cache_info().hits == 3


@needs_3_2
def test_triton_debug_is_read_on_every_launch(fake_cuda, monkeypatch):
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    monkeypatch.delenv("TRITON_DEBUG", raising=False)
    plain = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    monkeypatch.setenv("TRITON_DEBUG", "1")
    debug = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    assert debug is not plain and debug.metadata.debug
    monkeypatch.setenv("TRITON_DEBUG", "0")
    assert tritoncompat.launch(kernel, (1,), x, out, 64, BLOCK=64) is plain
    assert tritoncompat.cache_info().hits == 3


def test_none_is_part_of_the_key_and_passed_to_the_launcher(fake_cuda):
    @triton.jit
    def maybe(x_ptr, unused_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs), mask=offs < n)

    x, out, other = torch.randn(64), torch.empty(64), torch.randn(65)
    slot = layout()["args_slot"] + 1
    compiled = {}
    for name, value in (("none", None), ("tensor", other), ("none", None), ("misaligned", other[1:])):
        compiled.setdefault(name, same_as_native(maybe, (1,), x, value, out, 64, BLOCK=64))
        assert compiled[name] is maybe[(1,)](x, value, out, 64, BLOCK=64)
        assert fake_cuda.calls[-1][slot] is value
    assert len({id(k) for k in compiled.values()}) == 3  # "none" / "*fp32" + D / "*fp32" + N
    assert tritoncompat.cache_info().hits == 5


@needs_3_2
def test_do_not_specialize_on_alignment(fake_cuda):
    kernel = copy_kernel(do_not_specialize_on_alignment=["n"])
    x, out = torch.randn(64), torch.empty(64)
    compiled = {n: same_as_native(kernel, (1,), x, out, n, BLOCK=64) for n in (16, 32, 17, 1)}
    assert compiled[16] is compiled[32] is compiled[17]  # no "D" letter for n
    assert compiled[1] is not compiled[16]  # "1" still is
    assert tritoncompat.cache_info().hits >= 4


def test_exit_hook_alone_is_passed_as_triton_passes_it(fake_cuda):
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    hook = [].append
    CompiledKernel.launch_exit_hook = hook
    try:
        kernel[(1,)](x, out, 64, BLOCK=64)
        native = fake_cuda.calls[-1]
        tritoncompat.launch(kernel, (1,), x, out, 64, BLOCK=64)
        fast = fake_cuda.calls[-1]
    finally:
        CompiledKernel.launch_exit_hook = None
    md, enter, leave = layout()["hook_slots"]
    # no enter hook: no metadata (launch_metadata() returns None), the exit hook as it is
    assert (native[md], native[enter], native[leave]) == (None, None, hook)
    assert (fast[md], fast[enter]) == (None, None) and fast[leave] is native[leave]


def test_target_and_backend_are_not_rebuilt_on_a_hit(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_VERIFY", "0")  # verification runs Triton's own path on every hit
    _launch.reload()
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    calls = []
    real = fake_cuda.driver.get_current_target
    fake_cuda.driver.get_current_target = lambda: calls.append(1) or real()
    try:
        for _ in range(3):
            tritoncompat.launch(kernel, (1,), x, out, 64, BLOCK=64)
        assert calls == []
        kernel[(1,)](x, out, 64, BLOCK=64)
        assert len(calls) == (1 if V >= (3, 2) else 0)  # 3.2 rebuilds them on every native launch
    finally:
        del fake_cuda.driver.get_current_target


def test_warmup_returns_the_cached_kernel_without_launching(fake_cuda):
    # What verification relies on: Triton's own key and lookup, no grid evaluation, no launch.
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    compiled = same_as_native(kernel, (1,), x, out, 64, BLOCK=64)
    launches = len(fake_cuda.calls)

    def grid(meta):
        raise AssertionError("a warmup evaluated the grid")

    assert JITFunction.run(kernel, x, out, 64, grid=grid, warmup=True, BLOCK=64) is compiled
    assert len(fake_cuda.calls) == launches


def test_parameter_named_debug_goes_native(fake_cuda):
    @triton.jit
    def named(x_ptr, out_ptr, debug, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs), mask=offs < 64)

    x, out = torch.randn(64), torch.empty(64)
    native = named[(1,)](x, out, debug=7, BLOCK=64)  # run rebinds the parameter to its debug value
    native_call = fake_cuda.calls[-1]
    assert tritoncompat.launch(named, (1,), x, out, debug=7, BLOCK=64) is native
    assert fake_cuda.calls[-1][layout()["args_slot"]:] == native_call[layout()["args_slot"]:]
    with pytest.raises(TypeError):  # positional: "multiple values for argument 'debug'", as natively
        tritoncompat.launch(named, (1,), x, out, 7, BLOCK=64)
    with pytest.raises(TypeError):
        named[(1,)](x, out, 7, BLOCK=64)
    assert tritoncompat.cache_info().fallbacks == {"parameter named like an injected option": 2}


def test_backend_specific_spec_key_goes_native(fake_cuda):
    kernel = copy_kernel()
    x, out = torch.randn(64), torch.empty(64)
    compiled = kernel[(1,)](x, out, 64, BLOCK=64)  # creates the binder
    namespace = kernel.binder.__globals__
    original = namespace["compute_spec_key"]
    # What a backend with its own spec letters looks like (3.2 AMD: a pointer-range letter).
    namespace["compute_spec_key"] = lambda *args, **kwargs: original(*args, **kwargs)
    for _ in range(3):
        assert tritoncompat.launch(kernel, (1,), x, out, 64, BLOCK=64) is compiled
    info = tritoncompat.cache_info()
    assert info.hits == 0 and info.entries == 0
    assert info.fallbacks == {"backend-specific specialization key": 2}
