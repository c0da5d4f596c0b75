"""The own launch, proved at the driver on CPU: Triton's *real* launcher and the accelerator's own
launch both run against the fake libcuda (tritoncompat/testing/fake_libcuda.c), which records what
each hands the driver -- entry point, grid, block, shared memory, stream, launch attributes and the
bytes of every parameter (sizes from the kernel's PTX). Every test launches natively first and
compares the recording of each tritoncompat launch with it, byte for byte.

Releases: 3.0+ (the fake libcuda). The own launch itself serves 3.3 - 3.9 (backends/_direct.py);
on 3.0 - 3.2 the same comparisons hold with Triton's launcher on both sides, and the tests check
that the own launch stays off there, counted as "launcher not modelled"."""

import struct

import pytest

import tritoncompat

pytestmark = [pytest.mark.triton]

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402  (module level: 3.3 resolves dtype annotations in the globals)

import corpus  # noqa: E402


def _last(fc):
    launches = fc.libcuda.launches()
    assert launches, "nothing reached the driver"
    rec = dict(launches[-1])
    # attributes: their ids and the words they use (3.3 leaves unused bytes uninitialised)
    rec["attrs"] = [(a["id"], tuple(a["value"])) for a in rec["attrs"]]
    return rec


def _compare(fc, go_native, go_fast, times=2, setup=lambda: None):
    """Launch natively, then ``times`` times through ``go_fast``; every fast recording must equal
    the native one. Returns the native recording. ``setup`` runs after each reset of the fake."""
    fc.libcuda.reset()
    setup()
    go_native()
    want = _last(fc)
    assert want["error"] is None, want
    for i in range(times):
        fc.libcuda.reset()
        setup()
        go_fast()
        got = _last(fc)
        assert got == want, f"launch {i}: {got} != native {want}"
    return want


def test_corpus_byte_for_byte(fake_libcuda):
    fc = fake_libcuda
    tritoncompat.cache_clear()
    compared = 0
    for name, kernel, grid, args, kwargs in corpus.cases("cpu") + corpus.wrapped_cases("cpu"):
        def native():
            kernel[grid](*args, **kwargs)

        def fast():
            tritoncompat.launch(kernel, grid, *args, **kwargs)

        def patched():
            with tritoncompat.patched():
                kernel[grid](*args, **kwargs)

        try:
            _compare(fc, native, fast if type(kernel).__name__ == "JITFunction" else patched, times=3)
            _compare(fc, native, patched, times=2)
        except AssertionError as exc:
            raise AssertionError(f"corpus case {name}: {exc}") from None
        compared += 1
    info = tritoncompat.cache_info()
    assert compared > 10
    if corpus.own_launch_expected():
        assert info.own > 0, info
    else:
        assert info.own == 0, info


def _typed_kernel():
    @triton.jit
    def typed(x_ptr, out_ptr, a: tl.float16, b: tl.bfloat16, c: tl.float64, d: tl.uint32, e: tl.int16,
              f: tl.uint8, g: tl.int8, h: tl.uint64, i: tl.uint16, n, alpha, flag, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        y = tl.load(x_ptr + offs, mask=m) * alpha + a + b + c + d + e + f + g + h + i
        if flag:
            y = y + 1
        tl.store(out_ptr + offs, y, mask=m)

    return typed


def _outcome(go):
    try:
        go()
    except Exception as exc:  # the exception is part of the outcome
        return (type(exc).__name__, str(exc))
    return None


_INT = st.one_of(st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63 - 1,
                                                                2**63, 2**64 - 1, 2**64, 255, 256, -128, -129,
                                                                32767, 32768, 65535, 65536]))
_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-70000, 70000),
                   st.sampled_from([0.0, -0.0, 65504.0, 65520.0, 1e-8, 3.4e38, 3.5e38, 1e300]))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_scalars_property_byte_for_byte(fake_libcuda, data):
    """Every scalar type Triton's launchers convert (fp16, bf16, fp64, u8 - u64, i8, i16, the
    i32/i64/u64 of plain ints, fp32, i1 of a bool), with values from the whole range, those the
    launcher's formats reject included: a tritoncompat launch hands the driver the bytes Triton's
    launcher hands it, or raises the exception Triton's launcher raises, launching nothing."""
    import torch

    fc = fake_libcuda
    kernel = _typed_kernel()
    x = torch.randn(256)
    out = torch.zeros(256)
    scalars = [data.draw(_FLOAT, label=n) for n in "abc"] + [data.draw(_INT, label=n) for n in "defghi"]
    n = data.draw(st.sampled_from([200, 256, 2**31 + 7]), label="n")  # i32, 16-divisible, i64
    alpha = data.draw(_FLOAT, label="alpha")
    flag = data.draw(st.booleans(), label="flag")
    # a warm-up of the same specialization with values every format takes: the next launches hit
    safe = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535)
    args = (x, out, *scalars, n, alpha, flag)
    kernel[(2,)](x, out, *safe, n, 0.5, flag, BLOCK=128)
    tritoncompat.launch(kernel, (2,), x, out, *safe, n, 0.5, flag, BLOCK=128)

    def recorded():
        records = [dict(r, attrs=None) for r in fc.libcuda.launches()]
        if fp16_overflow:  # Triton's pack_fp16 leaves its result uninitialised (and raises after the launch)
            for r in records:
                r["params"] = r["params"][:2] + [None] + r["params"][3:]
        return records

    try:
        struct.pack("<e", scalars[0])
        fp16_overflow = False
    except (OverflowError, struct.error):
        fp16_overflow = True
    fc.libcuda.reset()
    want = _outcome(lambda: kernel[(2,)](*args, BLOCK=128))
    native = recorded()
    for how in ("launch", "patched"):
        fc.libcuda.reset()
        if how == "launch":
            got = _outcome(lambda: tritoncompat.launch(kernel, (2,), *args, BLOCK=128))
        else:
            with tritoncompat.patched():
                got = _outcome(lambda: kernel[(2,)](*args, BLOCK=128))
        assert got == want, (how, got, want)
        assert recorded() == native, how


def test_cpu_memory_on_a_hit_raises_tritons_error_and_launches_nothing(fake_libcuda):
    import torch

    from tritoncompat.backends import _direct

    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out, host = torch.randn(256), torch.zeros(256), torch.randn(256)
    args = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, True)
    _compare(fc, lambda: kernel[(2,)](x, out, *args, BLOCK=128),
             lambda: tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128))
    fc.libcuda.reset()
    fc.libcuda.mark_host(host)
    with pytest.raises(ValueError) as native:
        kernel[(2,)](x, host, *args, BLOCK=128)
    tritoncompat.cache_clear()
    tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128)
    before = len(fc.libcuda.launches())
    with pytest.raises(ValueError) as ours:
        tritoncompat.launch(kernel, (2,), x, host, *args, BLOCK=128)
    assert str(ours.value) == str(native.value)
    assert "cannot be accessed from Triton (cpu tensor?)" in str(ours.value)
    assert len(fc.libcuda.launches()) == before
    info = tritoncompat.cache_info()
    assert info.hits == 1
    if corpus.own_launch_expected():
        assert info.handoffs.get(_direct.HANDOFF_ARGUMENT) == 1, info


def test_translated_pointer_and_context_as_tritons(fake_libcuda):
    """The device pointer is the one cuPointerGetAttribute gives (not data_ptr()), and with no
    current context the primary context of device 0 is made current first, as Triton does."""
    import torch

    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    want = _compare(fc, lambda: kernel[(2,)](x, out, *args, BLOCK=128),
                    lambda: tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128),
                    setup=lambda: fc.libcuda.map_pointer(x, 0x10000))
    assert int.from_bytes(want["params"][0], "little") == x.data_ptr() + 0x10000
    counts = {}
    for how, go in (("native", lambda: kernel[(2,)](x, out, *args, BLOCK=128)),
                    ("launch", lambda: tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128))):
        fc.libcuda.reset()
        fc.libcuda.map_pointer(x, 0x10000)
        fc.libcuda.set_no_context(True)
        go()
        c = fc.libcuda.counters()
        counts[how] = (c["cuDevicePrimaryCtxRetain"], c["cuCtxSetCurrent"], _last(fc))
    assert counts["launch"] == counts["native"]
    from tritoncompat.testing.fake import V
    assert counts["native"][:2] == ((1, 1) if V >= (3, 2) else (0, 0))  # 3.0-3.1 never check the context


def test_launch_error_raises_as_tritons(fake_libcuda):
    import torch

    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    _compare(fc, lambda: kernel[(2,)](x, out, *args, BLOCK=128),
             lambda: tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128))
    errors = []
    for go in (lambda: kernel[(2,)](x, out, *args, BLOCK=128),
               lambda: tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128)):
        fc.libcuda.fail_next_launch()
        with pytest.raises(RuntimeError) as exc:
            go()
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and errors[0].startswith("Triton Error [CUDA]: ")


@pytest.mark.parametrize("option", ["num_warps", "launch_pdl", "launch_cooperative_grid", "empty grid"])
def test_launch_options_byte_for_byte(fake_libcuda, option):
    import torch

    from tritoncompat.testing.fake import V

    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    grid = (2, 3)
    kw = {"BLOCK": 128}
    if option == "num_warps":
        kw["num_warps"] = 8
    elif option == "launch_pdl":
        if V < (3, 4):
            pytest.skip("launch_pdl is a 3.4+ option")
        kw["launch_pdl"] = True
    elif option == "launch_cooperative_grid":
        if V < (3, 3):
            pytest.skip("launch_cooperative_grid is a launch option from 3.3")
        kw["launch_cooperative_grid"] = True
    else:
        grid = (0,)
    if option == "empty grid":
        kernel[(2,)](x, out, *args, **kw)
        fc.libcuda.reset()
        kernel[grid](x, out, *args, **kw)
        tritoncompat.launch(kernel, grid, x, out, *args, **kw)
        tritoncompat.launch(kernel, grid, x, out, *args, **kw)
        assert fc.libcuda.launches() == []
        return
    want = _compare(fc, lambda: kernel[grid](x, out, *args, **kw),
                    lambda: tritoncompat.launch(kernel, grid, x, out, *args, **kw))
    if option == "num_warps":
        assert want["block"] == (256, 1, 1)
    if option != "num_warps" and V >= (3, 4):
        assert want["attrs"], want


def _swap_direct(kernel, **changes):
    """Replace the own launch of ``kernel``'s one cache entry with a mutated one."""
    from tritoncompat import _accel, _slot
    from tritoncompat.backends import _direct
    from tritoncompat.backends._common import LAYOUT_3X

    cache = _slot.cache_of(kernel)
    (key, entry), = cache.entries.items()
    where = LAYOUT_3X.entry.index("direct")
    compiled = entry[LAYOUT_3X.entry.index("compiled")]()  # held weakly
    module = _accel.load()
    md = compiled.metadata
    _, model, _ = _direct.model()
    codes = bytearray(_direct.codes(module, _direct.model()[0], model, compiled.run, dict(compiled.src.signature))[0])
    names = list(module.DIRECT_CODES)
    for index, name in changes.get("codes", {}).items():
        codes[index] = names.index(name)
    direct = module.Direct(compiled.function, md.num_warps, md.shared + changes.get("shared", 0),
                           bool(md.launch_cooperative_grid), bool(getattr(md, "launch_pdl", False)), model.plain,
                           model.scratch, bytes(codes), lambda: None)
    cache.entries[key] = entry[:where] + (direct,) + entry[where + 1:]


@pytest.mark.parametrize("mutation", ["i64 passed as 32 bits", "an == 1 int passed", "stale shared memory",
                                      "fp32 passed as fp64"])
def test_mutations_are_caught(fake_libcuda, mutation):
    """The comparison is not blind: a wrong parameter width, an ``== 1`` int that Triton drops
    passed anyway, a stale shared-memory size each make a recording differ from native."""
    import torch

    if not corpus.own_launch_expected():
        pytest.skip("no own launch on this release")
    @triton.jit
    def mut(x_ptr, out_ptr, big, one, alpha, flag, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        y = tl.load(x_ptr + offs) * alpha + big + one
        if flag:
            y = y + 1
        tl.store(out_ptr + offs, y)

    fc = fake_libcuda
    x, out = torch.randn(128), torch.zeros(128)
    args = (x, out, 2**40 + 3, 1, 0.5, True)
    _compare(fc, lambda: mut[(1,)](*args, BLOCK=128), lambda: tritoncompat.launch(mut, (1,), *args, BLOCK=128))
    change = {"i64 passed as 32 bits": {"codes": {2: "I"}}, "an == 1 int passed": {"codes": {3: "i"}},
              "stale shared memory": {"shared": 1024}, "fp32 passed as fp64": {"codes": {4: "pack_fp64"}}}[mutation]
    _swap_direct(mut, **change)
    with pytest.raises(AssertionError):
        _compare(fc, lambda: mut[(1,)](*args, BLOCK=128), lambda: tritoncompat.launch(mut, (1,), *args, BLOCK=128),
                 times=1)


def test_unmodelled_launchers_keep_tritons(fake_libcuda):
    """3.0 - 3.2 (launchers this version does not model): every entry keeps Triton's launcher,
    counted; 3.3 - 3.9: own launches, and TRITONCOMPAT_DIRECT=0 turns them off."""
    import os

    import torch

    from tritoncompat.backends import _direct

    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    tritoncompat.cache_clear()
    tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128)
    info = tritoncompat.cache_info()
    if corpus.own_launch_expected():
        assert info.own == 1 and not info.handoffs, info
    else:
        assert info.own == 0 and sum(info.handoffs.values()) == 1, info
    tritoncompat.cache_clear()
    os.environ["TRITONCOMPAT_DIRECT"] = "0"
    try:
        tritoncompat.launch(kernel, (2,), x, out, *args, BLOCK=128)
    finally:
        del os.environ["TRITONCOMPAT_DIRECT"]
    info = tritoncompat.cache_info()
    assert info.own == 0 and sum(info.handoffs.values()) == 1, info
    if corpus.own_launch_expected():
        assert info.handoffs == {"own launch off (TRITONCOMPAT_DIRECT=0)": 1}
    del _direct


def test_bench_driver_loop_hands_the_driver_the_same_launch(fake_libcuda):
    """The benchmark's driver loop (Direct.loop) launches exactly what the hit launches; checked,
    it redoes the context and pointer checks before each launch."""
    import torch

    from tritoncompat import _bench

    if not corpus.own_launch_expected():
        pytest.skip("no own launch on this release")
    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (x, out, 1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    want = _compare(fc, lambda: kernel[(2,)](*args, BLOCK=128), lambda: tritoncompat.launch(kernel, (2,), *args, BLOCK=128))
    for checked, pointer_checks in ((False, 2), (True, 2 + 6 * 2)):  # a first check, then one per launch
        loop = _bench._own_launch(kernel, (2,), args, {"BLOCK": 128}, fc.stream, checked)
        fc.libcuda.reset()
        loop(6)
        got = [dict(r, attrs=[(a["id"], tuple(a["value"])) for a in r["attrs"]]) for r in fc.libcuda.launches()]
        assert got == [want] * 6
        assert fc.libcuda.counters()["cuPointerGetAttribute"] == pointer_checks


@pytest.mark.skipif(corpus.V < (3, 0), reason="2.x keeps Triton's launcher, uncounted")
def test_own_launches_and_handoffs_count_once_per_compiled_kernel(fake_cuda):
    """Two fast keys over one compiled kernel (3.3+: a bool, which Triton keys by type alone; 3.0 -
    3.2: a do_not_specialize int, % 16 == 0 or not): one own launch or one hand-off, as the README
    says (it counted once per cache entry)."""
    import torch

    from tritoncompat import _version

    @triton.jit(do_not_specialize=["k"])
    def dns(x_ptr, out_ptr, n, k, flag, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + k + flag, mask=offs < n)

    x, out = torch.zeros(64), torch.zeros(64)
    calls = [(3, True), (3, False)] if _version.detect().backend == "v3_3" else [(3, True), (32, True)]
    tritoncompat.cache_clear()
    compiled = {tritoncompat.launch(dns, (1,), x, out, 64, k, flag, BLOCK=64) for k, flag in calls * 2}
    info = tritoncompat.cache_info()
    assert len(compiled) == 1 and info.entries == 2, info
    assert info.own + sum(info.handoffs.values()) == 1, info
    tritoncompat.cache_clear()  # counted again after a clear
    tritoncompat.launch(dns, (1,), x, out, 64, *calls[0], BLOCK=64)
    info = tritoncompat.cache_info()
    assert info.own + sum(info.handoffs.values()) == 1, info


def _has_max_occupancy():
    try:
        from triton.backends.nvidia.compiler import CUDAOptions
    except ImportError:
        return False
    return "max_occupancy" in getattr(CUDAOptions, "__dataclass_fields__", {})


@pytest.mark.skipif(not _has_max_occupancy(), reason=f"max_occupancy is new on Triton's main (3.10); "
                                                      f"triton {triton.__version__} has no such option")
@pytest.mark.parametrize("occupancy", [1, 2, 3, None])
def test_max_occupancy_shared_size_byte_for_byte(fake_libcuda, monkeypatch, occupancy):
    """Triton's main (3.10): max_occupancy=N makes the launcher reserve shared memory (its
    ``shared``, from the device's max_shared_mem_per_multiprocessor and
    reserved_shared_mem_per_block) instead of the compiled kernel's ``packed_metadata`` size. The
    own launch, with this launcher modelled as 3.9.0's (as a day-0 model entry would be), hands
    the driver that reservation byte for byte: 232448 / 115712 / 76800 bytes for 1 / 2 / 3 with
    H100's properties. (Taking the size from packed_metadata launches with the kernel's own
    size, 0 here, and fails this test.)"""
    import torch

    from tritoncompat.backends import _direct

    _, found, fp = _direct.model()
    if found is None:
        monkeypatch.setitem(_direct.MODELS, fp, next(m for m in _direct.MODELS.values() if m.release == "3.9.0"))
        monkeypatch.setattr(_direct, "_model", None)
    fc = fake_libcuda
    kernel = _typed_kernel()
    x, out = torch.randn(256), torch.zeros(256)
    args = (x, out, 1.5, 2.5, 3.5, 7, -3, 200, 5, 2**63 + 5, 65535, 200, 0.5, False)
    options = {"BLOCK": 128} if occupancy is None else {"BLOCK": 128, "max_occupancy": occupancy}
    want = _compare(fc, lambda: kernel[(2,)](*args, **options),
                    lambda: tritoncompat.launch(kernel, (2,), *args, **options), times=3)
    if occupancy is not None:
        props = fc.properties
        reserved = (props["max_shared_mem_per_multiprocessor"] // occupancy // 128 * 128
                    - props["reserved_shared_mem_per_block"])
        assert reserved == {1: 232448, 2: 115712, 3: 76800}[occupancy]
        assert want["shared"] == reserved, want
    info = tritoncompat.cache_info()
    assert info.own >= 1 and info.hits >= 2 and not info.handoffs.get(_direct.HANDOFF_ARGUMENT), info
