"""The compiled accelerator (tritoncompat/_accel.c): plain hits of 3.x launchers served in C with
exactly the key the generated Python launcher computes; everything else handed to that launcher.

Skipped where there is no accelerator (a 2.x release, no C compiler, TRITONCOMPAT_ACCEL=0): the
rest of the suite then runs the pure-Python launchers.
"""

import gc
import inspect
import sys

import pytest
import torch
import triton
import triton.language as tl  # module level: 3.3 resolves a kernel's annotations in its globals
from hypothesis import given
from hypothesis import strategies as st

import tritoncompat
from tritoncompat import _accel, _launch, _version

import corpus
from test_accel_notorch import Recorder
from test_launch import assert_same_launch

pytestmark = [pytest.mark.triton]

V3 = _version.detect().backend in ("v3_0", "v3_3")
ACCEL = _accel.load() if V3 else None
needs_accel = pytest.mark.skipif(
    ACCEL is None, reason=f"no accelerator here: {'accelerator ' + _accel.state() if V3 else 'a 2.x release'}")


def launcher(kernel):
    return vars(kernel)[_launch.ATTR]


def served_in_c(kernel, grid, args, kwargs, via=None):
    """Launch once (through ``via``, default ``tritoncompat.launch``): True when the hit was served
    in C (the Python launcher never ran), with the hit counted either way."""
    hits = tritoncompat.cache_info().hits
    with Recorder(launcher(kernel)) as seen:
        (via or (lambda: tritoncompat.launch(kernel, grid, *args, **kwargs)))()
    assert tritoncompat.cache_info().hits == hits + 1
    return not seen.keys


@needs_accel
@pytest.mark.parametrize("case", corpus.CASE_NAMES)
def test_hits_are_served_in_c_with_the_native_launch(fake_cuda, case):
    name, kernel, grid, args, kwargs = corpus.case(case)
    kernel[grid](*args, **kwargs)
    native = fake_cuda.calls[-1]
    tritoncompat.launch(kernel, grid, *args, **kwargs)  # miss: Triton's own path, then cached
    assert type(launcher(kernel)).__name__ == "Accel"
    # A kernel that uses globals has Triton's guard checked by the Python launcher.
    in_c = name != "global constexpr"
    assert served_in_c(kernel, grid, args, kwargs) is in_c
    assert_same_launch(fake_cuda.calls[-1], native)
    with tritoncompat.patched():
        assert served_in_c(kernel, grid, args, kwargs, via=lambda: kernel[grid](*args, **kwargs)) is in_c
    assert_same_launch(fake_cuda.calls[-1], native)
    assert not tritoncompat.cache_info().fallbacks


def python_key(kernel, grid, args, kwargs):
    with Recorder(launcher(kernel)) as seen:
        launcher(kernel).py(grid, *args, **kwargs)
    return seen.keys[-1]


# Values of every key class: ints across the i32/i64/u64 edges, 1 and the divisibility bit, 1 vs
# 1.0 vs True, None, floats, tensors of two dtypes and three alignments, a Parameter.
INTS = [-(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -1, 0, 1, 2, 16, 17, 2**31 - 1, 2**31, 2**32, 2**63 - 1,
        2**63, 2**64 - 1]
VALUES = st.sampled_from(INTS) | st.sampled_from([1.0, -0.0, 0.5, True, False, None])


@needs_accel
@given(a=VALUES, b=VALUES, c=VALUES, dtype=st.sampled_from([torch.float32, torch.float16]),
       offset=st.sampled_from([0, 1, 4]), parameter=st.booleans(), as_kwargs=st.booleans(),
       options=st.sampled_from([{}, {"num_warps": 4}, {"num_warps": 2, "num_stages": 3}, {"debug": False},
                                {"num_stages": 2, "debug": True, "num_warps": 4}]),
       block=st.sampled_from([64, True, 64.0, None]))
def test_property_c_key_is_the_python_key(fake_cuda, a, b, c, dtype, offset, parameter, as_kwargs, options, block):
    kernel = corpus.build()["prop"]
    x = torch.randn(256).to(dtype)[offset:offset + 64]
    if parameter:
        x = torch.nn.Parameter(x, requires_grad=False)
    out = torch.empty(64, dtype=dtype)
    params = dict(x_ptr=x, out_ptr=out, a=a, b=b, c=c, BLOCK=block)
    call = ((), {**params, **options}) if as_kwargs else ((x, out, a, b, c), {"BLOCK": block, **options})
    tritoncompat.launch(kernel, (1,), x, out, 1, 1, 1, BLOCK=64)  # generates the launcher
    fast = launcher(kernel)
    try:
        expected = python_key(kernel, (1,), *call)
    except Exception:  # Triton rejects these values (e.g. BLOCK=None): no key to compare
        return
    got = fast.key((1,), *call[0], **call[1])
    assert got == expected
    assert [type(i) for i in got] == [type(i) for i in expected]


@needs_accel
def test_c_key_of_do_not_specialize_ints_is_the_python_key(fake_cuda):
    """A do_not_specialize int is keyed by its range class alone on 3.3+ (INT_CLASS), in C as in the
    generated Python launcher; the other ints of the same kernel keep their full code."""
    from tritoncompat.backends import _common

    @triton.jit(do_not_specialize=["k"])
    def dns(x_ptr, out_ptr, n, k, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + k, mask=offs < n)

    x, out = torch.zeros(64), torch.zeros(64)
    tritoncompat.launch(dns, (1,), x, out, 64, 3, BLOCK=64)  # generates the launcher
    fast = launcher(dns)
    classes = _version.detect().backend == "v3_3"
    for k in INTS + [1.0, True, None]:
        for n in (64, k) if type(k) is int else (64,):
            got = fast.key((1,), x, out, n, k, BLOCK=64)
            try:
                expected_key = python_key(dns, (1,), (x, out, n, k), {"BLOCK": 64})
            except Exception:  # Triton refuses the launch (beyond 64 bits): its key is still compared below
                expected_key = got
            assert got == expected_key and [type(i) for i in got] == [type(i) for i in expected_key], (n, k)
            if type(k) is int:
                expected = _common.int_class(k) if classes else _common.int_code(k)
                assert got[4] == expected and type(got[4]) is int, (k, got)
                assert got[3] == _common.int_code(n), (n, got)


@needs_accel
def test_key_of_values_it_leaves_to_python(fake_cuda):
    kernel = corpus.build()["prop"]
    x, out = torch.randn(64), torch.empty(64)
    tritoncompat.launch(kernel, (1,), x, out, 1, 2, 3, BLOCK=64)
    fast = launcher(kernel)
    assert fast.key((1,), x, out, 1, 2) is None  # a missing argument: the Python launcher raises
    assert fast.key((1,), x, out, 1, 2, 3, a=1, BLOCK=64) is None  # given twice
    assert fast.key((1,), x, out, 1, 2, 3, 4, 64, 5) is None  # too many
    assert fast.key((1,), x, out, 1, 2, 3, BLOCK=64, _tc_grid=1) is None  # a generated name
    with pytest.raises(Exception, match="argument of type"):  # Unsupported: the Python launcher goes native
        fast.key((1,), x, out, object(), 2, 3, BLOCK=64)


@needs_accel
def test_launches_it_hands_to_the_python_launcher(fake_cuda, monkeypatch):
    from test_hooks import install_enter_hook

    name, kernel, grid, args, kwargs = corpus.case("axpb options")
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert served_in_c(kernel, grid, args, kwargs)
    # a launch hook: the Python launcher builds the metadata
    seen = []
    undo = install_enter_hook(seen.append)
    try:
        assert not served_in_c(kernel, grid, args, kwargs)
    finally:
        undo()
    assert len(seen) == 1 and served_in_c(kernel, grid, args, kwargs)
    # Triton's cache dropped: the Python launcher's miss path (not a hit)
    (kernel.device_caches if hasattr(kernel, "device_caches") else kernel.cache).clear()  # 3.3+ / 3.0-3.2
    with Recorder(launcher(kernel)) as recorded:
        tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert recorded.keys and tritoncompat.cache_info().misses == 2
    assert served_in_c(kernel, grid, args, kwargs)
    # pre-run hooks: native, counted
    kernel.pre_run_hooks.append(lambda *a, **k: None)
    try:
        with Recorder(launcher(kernel)) as recorded:
            tritoncompat.launch(kernel, grid, *args, **kwargs)
        assert recorded.keys and tritoncompat.cache_info().fallbacks == {"pre-run hooks": 1}
    finally:
        kernel.pre_run_hooks.clear()
    # no grid: Triton's own error
    with pytest.raises(Exception) as native:
        kernel[None](*args, **kwargs)
    with pytest.raises(type(native.value)):
        tritoncompat.launch(kernel, None, *args, **kwargs)


@needs_accel
def test_no_reference_leaks_on_the_c_paths(fake_cuda):
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    grid = (8,)

    def meta(m):
        return (8,)

    def launches():
        for _ in range(200):
            tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)  # hit, in C
            tritoncompat.launch(kernel, meta, x, out, 1000, 3, 2.5, BLOCK=128)  # callable grid, keyword
            launcher(kernel)(grid, x, out, 1000, 3, 2.5, num_warps=4)  # options, through the Accel
            with pytest.raises(TypeError):
                tritoncompat.launch(kernel, grid, x, out, 1000, 3)  # missing argument: Python raises
        fake_cuda.calls.clear()

    launches()  # compiles, fills the caches
    compiled = tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)
    fake_cuda.calls.clear()
    gc.collect()
    watched = (x, out, grid, meta, compiled, torch.float32, kernel)
    before = [sys.getrefcount(o) for o in watched]
    launches()
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == before


@needs_accel
def test_dispatcher_is_launch(fake_cuda):
    assert type(tritoncompat.launch).__name__ == "Launch"
    assert tritoncompat.launch.__wrapped__ is _launch.launch
    assert tritoncompat.launch.__doc__ == _launch.launch.__doc__
    assert inspect.signature(tritoncompat.launch) == inspect.signature(_launch.launch)
    kernel = corpus.build()["axpb"]
    for bad in [(), (kernel,), (object(), (1,))]:
        with pytest.raises(Exception) as python:
            _launch.launch(*bad)
        with pytest.raises(type(python.value)) as dispatched:
            tritoncompat.launch(*bad)
        assert str(dispatched.value) == str(python.value)


@needs_accel
def test_accelerator_off(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_ACCEL", "0")
    _launch.reload()
    name, kernel, grid, args, kwargs = corpus.case("axpb callable grid")
    for _ in range(2):
        tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert inspect.isfunction(launcher(kernel))  # the generated Python launcher itself
    assert tritoncompat.cache_info().hits == 1
    assert _launch.status()["accelerator"] == "off (TRITONCOMPAT_ACCEL=0)"


@pytest.mark.skipif(not V3, reason="the accelerator serves the 3.x backends")
@pytest.mark.parametrize("cc, reason", [("false", "build failed"), ("/nonexistent/cc", "no C compiler")])
def test_no_compiler_or_a_failed_build_stays_in_python(fake_cuda, monkeypatch, tmp_path, cc, reason):
    monkeypatch.setenv("TRITONCOMPAT_CACHE_DIR", str(tmp_path))  # nothing built there yet
    monkeypatch.setenv("CC", cc)
    monkeypatch.delenv("TRITONCOMPAT_ACCEL", raising=False)
    _launch.reload()
    name, kernel, grid, args, kwargs = corpus.case("axpb fp16")
    for _ in range(2):
        tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert inspect.isfunction(launcher(kernel)) and tritoncompat.cache_info().hits == 1
    assert _launch.status()["accelerator"].startswith(f"off ({reason}")


def test_import_builds_nothing():
    import subprocess

    code = "import sys, tritoncompat; assert 'tritoncompat._accel_c' not in sys.modules and 'triton' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
