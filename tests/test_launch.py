"""launch(): the fast path hands the compiled kernel's launcher exactly what Triton's own path
hands it, on a CPU machine (Triton compiles for real; a fake driver records the launcher's
arguments and gives every compiled kernel its own function handle)."""

import warnings

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

pytestmark = [pytest.mark.triton]

V = corpus.V
FAST = _version.detect().backend in _version.BACKENDS  # this release has a backend (3.3-3.9 today)
needs_backend = pytest.mark.skipif(not FAST, reason=f"no backend yet for triton {triton.__version__}")


def assert_same_launch(fast, native):
    """Element by element: tensors by identity, launch metadata and hooks modulo None (the fast
    path passes None for idle hooks), everything else by type and value."""
    assert len(fast) == len(native), (fast, native)
    layout = _launch.backend().module.LAUNCHER_LAYOUT
    for i, (a, b) in enumerate(zip(fast, native)):
        if i in layout["hook_slots"] and (a is None or a is b or type(a).__name__ == type(b).__name__ == "LazyDict"):
            continue  # a fresh LazyDict per native launch (3.5+)
        if hasattr(b, "data_ptr"):
            assert a is b, f"slot {i}: {a!r} is not the native tensor"
        elif isinstance(b, tuple):
            assert type(a) is type(b) and len(a) == len(b), f"slot {i}: {a!r} != {b!r}"
            assert all((x is y) if hasattr(y, "data_ptr") else (type(x) is type(y) and x == y) for x, y in zip(a, b))
        else:
            assert type(a) is type(b) and a == b, f"slot {i}: {a!r} != {b!r}"


def function_of(call):
    return call[_launch.backend().module.LAUNCHER_LAYOUT["function_slot"]]


@needs_backend
@pytest.mark.parametrize("case", corpus.CASE_NAMES)
def test_fast_path_matches_native(fake_cuda, case):
    name, kernel, grid, args, kwargs = corpus.case(case)
    kernel[grid](*args, **kwargs)
    native = fake_cuda.calls[-1]
    assert tritoncompat.launch(kernel, grid, *args, **kwargs) is not None  # miss: native once
    before = tritoncompat.cache_info()
    compiled = tritoncompat.launch(kernel, grid, *args, **kwargs)  # hit
    after = tritoncompat.cache_info()
    assert after.hits == before.hits + 1, (name, after)
    assert_same_launch(fake_cuda.calls[-1], native)
    with tritoncompat.patched():
        assert kernel[grid](*args, **kwargs) is compiled
    assert tritoncompat.cache_info().hits == after.hits + 1
    assert_same_launch(fake_cuda.calls[-1], native)
    assert not tritoncompat.cache_info().fallbacks


@needs_backend
@pytest.mark.parametrize("case", [0, 1])
def test_autotune_and_heuristics_take_the_fast_path_when_patched(fake_cuda, case):
    name, kernel, grid, args, kwargs = corpus.wrapped_cases()[case]
    kernel[grid](*args, **kwargs)
    native = fake_cuda.calls[-1]
    with tritoncompat.patched():
        kernel[grid](*args, **kwargs)
        hits = tritoncompat.cache_info().hits
        kernel[grid](*args, **kwargs)
        assert tritoncompat.cache_info().hits == hits + 1
    assert_same_launch(fake_cuda.calls[-1], native)
    # Outside patch(), launch() takes them through the autotuner memo / the heuristics (computed
    # per launch, as Heuristics.run does), their final launch fast.
    hits = tritoncompat.cache_info().hits
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert_same_launch(fake_cuda.calls[-1], native)
    assert tritoncompat.cache_info().hits == hits + 1 and not tritoncompat.cache_info().fallbacks


# Over random argument sets, every launch reaches the compiled kernel the native path reaches.
INTS = [-1, 0, 1, 16, 17, 2**31 - 1, 2**31, 2**63 - 1]
SCALARS = st.sampled_from(INTS) | st.sampled_from([1.0, True, False, 0.5])


@needs_backend
@given(a=SCALARS, b=SCALARS, c=SCALARS, dtype=st.sampled_from([torch.float32, torch.float16]),
       offset=st.sampled_from([0, 1, 4]), as_kwargs=st.booleans(), warps=st.sampled_from([None, 4]))
def test_property_same_compiled_kernel_as_native(fake_cuda, a, b, c, dtype, offset, as_kwargs, warps):
    kernel = corpus.build()["prop"]
    x = torch.randn(256).to(dtype)[offset:offset + 64]
    out = torch.empty(64, dtype=dtype)
    opts = {} if warps is None else {"num_warps": warps}
    call = (((), dict(x_ptr=x, out_ptr=out, a=a, b=b, c=c, BLOCK=64, **opts)) if as_kwargs
            else ((x, out, a, b, c), dict(BLOCK=64, **opts)))
    native = kernel[(1,)](*call[0], **call[1])
    native_function = function_of(fake_cuda.calls[-1])
    for _ in range(2):  # miss (native) then hit (fast; verified against Triton's own key)
        assert tritoncompat.launch(kernel, (1,), *call[0], **call[1]) is native
        assert function_of(fake_cuda.calls[-1]) == native_function


@needs_backend
def test_native_cache_cleared_goes_native_again(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    first = tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    (kernel.device_caches if hasattr(kernel, "device_caches") else kernel.cache).clear()  # the user drops Triton's cache
    misses = tritoncompat.cache_info().misses
    second = tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert second is not first and tritoncompat.cache_info().misses == misses + 1
    assert tritoncompat.launch(kernel, grid, *args, **kwargs) is second


@needs_backend
def test_verify_catches_a_wrong_entry(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_VERIFY", "1")
    _launch.reload()
    kernel = corpus.build()["ints"]
    out = torch.empty(64)
    tritoncompat.launch(kernel, (1,), out, 16, 16, 16, 16, BLOCK=64)
    tritoncompat.launch(kernel, (1,), out, 17, 17, 17, 17, BLOCK=64)
    entries = _launch.kernel_cache(kernel).entries
    assert tritoncompat.cache_info(kernel).entries == 2
    (k1, e1), (k2, e2) = list(entries.items())[-2:]
    entries[k1], entries[k2] = e2, e1  # simulate a key that picks the wrong kernel
    with pytest.raises(tritoncompat.TritonCompatVerifyError):
        tritoncompat.launch(kernel, (1,), out, 16, 16, 16, 16, BLOCK=64)


@needs_backend
@pytest.mark.skipif(V < (3, 0), reason="2.x has no guard on the globals a kernel uses")
def test_global_guard_raises_like_triton(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.case("global constexpr")
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    old = corpus.SCALE
    corpus.SCALE = tl.constexpr(3)
    try:
        with pytest.raises(RuntimeError, match="Global variable SCALE has changed") as native:
            kernel[grid](*args, **kwargs)
        with pytest.raises(RuntimeError) as fast:
            tritoncompat.launch(kernel, grid, *args, **kwargs)
        assert str(fast.value) == str(native.value)
    finally:
        corpus.SCALE = old


# ---------------------------------------------------------------- fallbacks


@needs_backend
def test_warmup_and_pre_run_hooks_go_native(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    with tritoncompat.patched():
        kernel.warmup(*args, grid=grid, **kwargs)
        assert tritoncompat.cache_info().fallbacks.get("warmup") == 1
        if not hasattr(kernel, "add_pre_run_hook"):  # 2.x: no pre-run hooks
            return
        seen = []
        kernel.add_pre_run_hook(lambda *a, **k: seen.append(a))
        try:
            kernel[grid](*args, **kwargs)
            kernel[grid](*args, **kwargs)
        finally:
            kernel.pre_run_hooks.clear()
    assert len(seen) == 2
    assert tritoncompat.cache_info().fallbacks.get("pre-run hooks") == 2


@needs_backend
def test_unsupported_argument_type_goes_native(fake_cuda):
    import enum

    class Size(enum.IntEnum):
        N = 1000

    name, kernel, grid, args, kwargs = corpus.cases()[0]
    args = list(args)
    args[2] = Size.N  # an int subclass: Triton decides, counted
    try:
        native = kernel[grid](*args, **kwargs)
    except Exception as exc:
        with pytest.raises(type(exc)):
            tritoncompat.launch(kernel, grid, *args, **kwargs)
    else:
        assert tritoncompat.launch(kernel, grid, *args, **kwargs) is native
    assert any("argument of type" in r for r in tritoncompat.cache_info().fallbacks)


# ---------------------------------------------------------------- bad input


def _bad_inputs():
    x, out = torch.randn(1024), torch.empty(1024)
    return {
        "too few arguments": ((x, out, 1000), {}),
        "too many arguments": ((x, out, 1000, 3, 2.5, 128, 7), {}),
        "unknown keyword": ((x, out, 1000, 3, 2.5), {"bogus": 1}),
        "unhashable constexpr": ((x, out, 1000, 3, 2.5), {"BLOCK": [128]}),
        "int beyond 64 bits": ((x, out, 2**64, 3, 2.5), {}),
        "non-tensor pointer": (("not a tensor", out, 1000, 3, 2.5), {}),
        "duplicate argument": ((x, out, 1000, 3, 2.5), {"x_ptr": x}),
    }


BINDING_ERRORS = {"too few arguments", "too many arguments", "duplicate argument"}


@needs_backend
@pytest.mark.parametrize("bad", sorted(_bad_inputs()))
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_bad_input_raises_what_triton_raises(fake_cuda, bad, via):
    kernel = corpus.build()["axpb"]
    args, kwargs = _bad_inputs()[bad]
    try:
        kernel[(8,)](*args, **kwargs)
    except Exception as exc:
        native = exc
    else:  # some releases accept it on the fake driver (no C launcher to reject it)
        native = None
        native_call = fake_cuda.calls[-1]
    entries = tritoncompat.cache_info().entries

    def ours():
        if via == "launch":
            return tritoncompat.launch(kernel, (8,), *args, **kwargs)
        with tritoncompat.patched():
            return kernel[(8,)](*args, **kwargs)

    if native is not None:
        with pytest.raises(type(native)) as raised:
            ours()
        assert type(raised.value) is type(native), (raised.value, native)
        if bad in BINDING_ERRORS and (via == "launch" or type(tritoncompat.launch).__name__ == "Launch"):
            assert str(raised.value) == str(native)  # Triton's own message (patched: with the C dispatcher)
        assert tritoncompat.cache_info().entries == entries  # nothing cached
        assert tritoncompat.cache_info().hits == 0
    else:
        ours()
        assert function_of(fake_cuda.calls[-1]) == function_of(native_call)
    # The kernel is still usable, and still fast.
    x, out = torch.randn(1024), torch.empty(1024)
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    hits = tritoncompat.cache_info().hits
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    assert tritoncompat.cache_info().hits == hits + 1


@needs_backend
def test_grid_errors_propagate_unchanged(fake_cuda):
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)

    def bad_grid(meta):
        raise ZeroDivisionError("grid")

    for launcher in (lambda g: kernel[g](x, out, 1000, 3, 2.5), lambda g: tritoncompat.launch(kernel, g, x, out, 1000, 3, 2.5)):
        with pytest.raises(ZeroDivisionError, match="grid"):
            launcher(bad_grid)
    for bad in (("a",), (), 8, {"x": 1}):  # what a real launcher rejects; the fake may accept some
        try:
            kernel[bad](x, out, 1000, 3, 2.5)
        except Exception as native:
            with pytest.raises(type(native)):
                tritoncompat.launch(kernel, bad, x, out, 1000, 3, 2.5)
        else:
            native_call = fake_cuda.calls[-1]
            tritoncompat.launch(kernel, bad, x, out, 1000, 3, 2.5)
            assert fake_cuda.calls[-1][:3] == native_call[:3]


@needs_backend
def test_grid_callable_gets_a_fresh_dict_of_all_params(fake_cuda):
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    seen = []

    def grid(meta):
        seen.append(meta)
        meta["n"] = -1  # mutating it must not change what is launched
        return (8,)

    tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)
    tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)
    assert seen[-1] is not seen[-2]
    assert set(seen[-1]) == {"x_ptr", "out_ptr", "n", "k", "alpha", "BLOCK"}
    args_slot = _launch.backend().module.LAUNCHER_LAYOUT["args_slot"]
    assert fake_cuda.calls[-1][args_slot + 2] == 1000


@needs_backend
def test_cache_holds_no_tensors(fake_cuda):
    import gc
    import weakref

    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    for _ in range(2):
        tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    assert tritoncompat.cache_info(kernel).hits == 1
    refs = [weakref.ref(x), weakref.ref(out)]
    fake_cuda.calls.clear()  # the fake launcher's record is the only other holder
    del x, out
    gc.collect()
    assert all(r() is None for r in refs), "the key cache keeps a tensor alive"


@needs_backend
def test_fast_path_error_disables_that_kernel_only(fake_cuda):
    kernel = corpus.build()["activation"]
    other = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    tritoncompat.launch(kernel, (4,), x, out, 1000, BLOCK=256)
    tritoncompat.launch(other, (8,), x, out, 1000, 3, 2.5)

    def broken(value):
        raise RuntimeError("a bug in the fast path")

    vars(kernel)[_launch.ATTR].__globals__["_tc_constexpr_key"] = broken  # ACT="leaky" is a str constexpr
    with pytest.warns(tritoncompat.TritonCompatWarning, match="a bug in the fast path"):
        tritoncompat.launch(kernel, (4,), x, out, 1000, BLOCK=256, ACT="leaky")
    native_call = fake_cuda.calls[-1]
    kernel[(4,)](x, out, 1000, BLOCK=256, ACT="leaky")
    assert function_of(fake_cuda.calls[-1]) == function_of(native_call)  # Triton's own path launched the right kernel
    hits = tritoncompat.cache_info().hits
    tritoncompat.launch(kernel, (4,), x, out, 1000, BLOCK=256)  # disabled: native, counted
    tritoncompat.launch(other, (8,), x, out, 1000, 3, 2.5)  # the other kernel stays fast
    assert tritoncompat.cache_info().hits == hits + 1
    assert tritoncompat.cache_info().fallbacks.get("fast path disabled after an error") == 1


@needs_backend
def test_no_grid_raises_what_triton_raises(fake_cuda):
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)  # cached: the hit path must check too
    with pytest.raises(Exception) as native:
        kernel[None](x, out, 1000, 3, 2.5)
    with pytest.raises(type(native.value)):
        tritoncompat.launch(kernel, None, x, out, 1000, 3, 2.5)


@needs_backend
def test_injected_debug_value_keyed_with_its_type(fake_cuda):
    # Triton keys the injected debug option on str(): @jit(debug=True) and debug=1 differ.
    kernel = corpus.build()["no_spec"]
    if not hasattr(kernel, "debug"):
        pytest.skip("3.2 keeps no per-kernel debug flag")
    x, out = torch.randn(1024), torch.empty(1024)
    old = kernel.debug
    try:
        for value in (True, 1, True):
            kernel.debug = value
            kernel[(8,)](x, out, 1000, BLOCK=128)
            native = function_of(fake_cuda.calls[-1])
            for _ in range(2):
                tritoncompat.launch(kernel, (8,), x, out, 1000, BLOCK=128)
                assert function_of(fake_cuda.calls[-1]) == native, value
    finally:
        kernel.debug = old


@needs_backend
@pytest.mark.skipif(V < (3, 4), reason="host-side TensorDescriptor arguments are 3.4+")
def test_tensor_descriptor_arguments_go_native_counted(fake_cuda):
    from triton.tools.tensor_descriptor import TensorDescriptor

    @triton.jit
    def desc_scale(in_desc, out_desc, BLOCK: tl.constexpr):
        offset = tl.program_id(0) * BLOCK
        out_desc.store([offset], in_desc.load([offset]) * 2.0)

    x, out = torch.randn(4096), torch.empty(4096)
    descs = (TensorDescriptor.from_tensor(x, [128]), TensorDescriptor.from_tensor(out, [128]))
    desc_scale[(32,)](*descs, BLOCK=128)
    native = fake_cuda.calls[-1]
    for _ in range(2):
        tritoncompat.launch(desc_scale, (32,), *descs, BLOCK=128)
        assert function_of(fake_cuda.calls[-1]) == function_of(native)
    info = tritoncompat.cache_info()
    assert info.hits == 0 and sum(info.fallbacks.values()) == 2, info


def _break_build(monkeypatch, where):
    """Make tritoncompat's own machinery fail while it builds a kernel's fast path."""

    def broken(*args, **kwargs):
        raise RuntimeError(f"a bug while building ({where})")

    if where == "launcher":
        monkeypatch.setattr(_launch.backend().module, "build", broken)
    else:  # the accelerator's constructor (3.x with the accelerator on)
        from tritoncompat import _accel

        module = _accel.load()
        if module is None or _launch.backend().module.NAME not in ("v3_0", "v3_3"):
            pytest.skip("the compiled accelerator serves no hit here")

        class Failing:
            def __getattr__(self, name):
                return broken if name == "Accel" else getattr(module, name)

        monkeypatch.setattr(_accel, "load", lambda: Failing())


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
@pytest.mark.parametrize("where", ["launcher", "accelerator"])
def test_a_failure_building_the_fast_path_goes_native(fake_cuda, monkeypatch, where, via):
    # What crashed the first launch of a process on 3.5+: an exception while the fast path was
    # being built reached the user. Now the launch goes native, the kernel stays native, counted,
    # with one warning at the user's line; Triton's own path launches exactly what it would.
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    kernel[(8,)](x, out, 1000, 3, 2.5)
    native = fake_cuda.calls[-1]
    _break_build(monkeypatch, where)

    def ours():
        if via == "launch":
            return tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
        with tritoncompat.patched():
            return kernel[(8,)](x, out, 1000, 3, 2.5)

    with pytest.warns(tritoncompat.TritonCompatWarning, match=r"a bug while building") as record:
        ours()
    assert [w.filename for w in record] == [__file__]  # the user's line, not ours
    assert_same_launch(fake_cuda.calls[-1], native)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per kernel
        ours()
    assert_same_launch(fake_cuda.calls[-1], native)
    info = tritoncompat.cache_info()
    assert info.hits == 0 and info.fallbacks == {_launch.BUILD_FAILED: 2}


@needs_backend
def test_a_kernel_wider_than_the_accelerator_keeps_its_python_launcher(fake_cuda, tmp_path):
    # 300 parameters: more than the C accelerator serves (its constructor refused it, and the
    # launch failed). The kernel keeps the generated Python launcher: fast, no warning.
    import importlib.util

    names = ", ".join(f"a{i}" for i in range(300))
    path = tmp_path / "wide_kernel.py"
    path.write_text("import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
                    f"def wide(out_ptr, {names}):\n"
                    "    tl.store(out_ptr + tl.arange(0, 16), tl.zeros((16,), tl.float32) + a0 + a299)\n")
    spec = importlib.util.spec_from_file_location("wide_kernel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, args = torch.empty(16), [3 + 2 * i for i in range(300)]
    module.wide[(1,)](out, *args)
    native = fake_cuda.calls[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            tritoncompat.launch(module.wide, (1,), out, *args)
            assert_same_launch(fake_cuda.calls[-1], native)
    info = tritoncompat.cache_info()
    assert (info.hits, info.fallbacks) == (1, {})
    assert type(vars(module.wide)[_launch.ATTR]).__name__ != "Accel"


def keeps_missing(info):
    return sum(n for reason, n in info.fallbacks.items() if reason.startswith("keeps missing"))


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_a_kernel_that_keeps_missing_steps_aside_and_comes_back(fake_cuda, monkeypatch, via):
    """More live keys than TRITONCOMPAT_MAX_ENTRIES (here 3 specializations cycling over a cache of
    2: every launch a miss, each dearer than Triton's own launch): the kernel steps aside to
    Triton's own path, counted, with one warning; once its launches would hit again (one
    specialization) it comes back to the fast path. Today every launch misses, silently."""
    monkeypatch.setenv("TRITONCOMPAT_MAX_ENTRIES", "2")
    _launch.reload()

    @triton.jit
    def churn(x_ptr, out_ptr, n, k, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + k, mask=offs < n)

    x, out = torch.zeros(64), torch.zeros(64)
    ks = [3, 16, 1]  # three compiled kernels on every release

    def go(k):
        if via == "launch":
            return tritoncompat.launch(churn, (1,), x, out, 64, k, BLOCK=64)
        return churn[(1,)](x, out, 64, k, BLOCK=64)

    natively = {k: churn[(1,)](x, out, 64, k, BLOCK=64) for k in ks}
    launched = len(fake_cuda.calls)
    with tritoncompat.patched() if via == "patched" else warnings.catch_warnings(), \
            pytest.warns(tritoncompat.TritonCompatWarning, match="keeps missing") as record:
        for i in range(600):
            assert go(ks[i % 3]) is natively[ks[i % 3]]
        info = tritoncompat.cache_info()
        assert len(fake_cuda.calls) - launched == 600  # each launched once
        assert sum(1 for w in record if "keeps missing" in str(w.message)) == 1
        assert keeps_missing(info) > 500 and info.misses < 60, info
        assert info.hits + info.misses + keeps_missing(info) == 600, info  # every launch counted once
        # Still missing: a probe that misses doubles the interval, so a long churn pays about one
        # miss (a probe) in PROBE_MAX launches, not one in PROBE_EVERY.
        for i in range(20000):
            go(ks[i % 3])
        after = tritoncompat.cache_info()
        assert after.misses - info.misses <= 20000 // _common.PROBE_MAX + 10, (info, after)
        # One specialization: its probes hit, the launches after a hit are probes too, and it
        # comes back within PROBE_MAX launches.
        back = _common.PROBE_MAX + _common.COME_BACK_AFTER
        for _ in range(back):
            go(3)
        hits = tritoncompat.cache_info().hits
        for _ in range(10):
            go(3)
        assert tritoncompat.cache_info().hits == hits + 10
    info = tritoncompat.cache_info()
    assert info.hits + info.misses + keeps_missing(info) == 600 + 20000 + back + 10, info


@needs_backend
@pytest.mark.skipif(V < (3, 3), reason="3.3+ only: where Triton's specialize_impl keys these ints by type alone")
def test_do_not_specialize_ints_are_keyed_no_finer_than_triton(fake_cuda):
    """Ints of a do_not_specialize parameter: Triton keys them by range class alone (no == 1, no
    divisibility); so does the key (3.3+), so 1, 3, 16, 32, -16 are one entry and hit, and each
    range class is its own. Today each of the first five is its own key (a miss each)."""

    @triton.jit(do_not_specialize=["k"])
    def dns(x_ptr, out_ptr, n, k, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + k, mask=offs < n)

    x, out = torch.zeros(64), torch.zeros(64)
    values = [1, 3, 16, 32, -16, 2**33, 2**33 + 1, 2**63 + 16]
    natively = [dns[(1,)](x, out, 64, k, BLOCK=64) for k in values]
    for _ in range(2):
        for k, native in zip(values, natively):
            assert tritoncompat.launch(dns, (1,), x, out, 64, k, BLOCK=64) is native
            ours = fake_cuda.calls[-1]
            dns[(1,)](x, out, 64, k, BLOCK=64)
            assert_same_launch(ours, fake_cuda.calls[-1])
    info = tritoncompat.cache_info()
    assert (info.entries, info.misses, info.hits) == (3, 3, 2 * len(values) - 3), info
