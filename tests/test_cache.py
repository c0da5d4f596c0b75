"""_cache and the key pieces of backends/_common (no Triton needed)."""

import gc
import threading
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tritoncompat
from tritoncompat import _cache
from tritoncompat.backends import _common

BOUNDARIES = [-(2**64), -(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -17, -16, -1, 0, 1, 2, 15, 16, 17,
              2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64]


def inline_int_code(v):
    return eval(_common.INT_CODE.format(v="v"), {"v": v})


@pytest.mark.parametrize("v", BOUNDARIES)
def test_inline_int_code_matches_reference(v):
    assert inline_int_code(v) == _common.int_code(v)


@given(st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(BOUNDARIES))
def test_int_code_property(v):
    assert inline_int_code(v) == _common.int_code(v)


# Triton's int classes (every release): the code must separate every pair Triton separates.
def triton_int_class(v):
    if v == 1:
        return "one"
    kind = "i32" if -(2**31) <= v <= 2**31 - 1 else "i64" if -(2**63) <= v <= 2**63 - 1 else \
        "u64" if 0 <= v <= 2**64 - 1 else "overflow"
    return kind, v % 16 == 0, v % 8 == 0


@given(st.sampled_from(BOUNDARIES) | st.integers(-(2**65), 2**65), st.sampled_from(BOUNDARIES) | st.integers(-(2**65), 2**65))
def test_int_code_refines_triton_classes_except_mod8(a, b):
    # %8 (2.2/2.3) is added by those backends; the shared code must refine everything else.
    if _common.int_code(a) == _common.int_code(b):
        ca, cb = triton_int_class(a), triton_int_class(b)
        assert ca[:2] == cb[:2] if isinstance(ca, tuple) and isinstance(cb, tuple) else ca == cb


class FakeTensor:
    def __init__(self, ptr, dtype="float32"):
        self.ptr, self.dtype = ptr, dtype

    def data_ptr(self):
        return self.ptr


def test_value_key_separates_kinds_that_hash_equal():
    tensor = FakeTensor
    keys = [_common.value_key(v, tensor, True) for v in (1, 1.0, True, None, 0, False)]
    assert len(set(map(repr, keys))) == len(keys)
    assert _common.value_key(1, tensor, True) != _common.value_key(True, tensor, True)


def test_value_key_tensor_alignment_and_dtype():
    aligned, misaligned = FakeTensor(4096), FakeTensor(4100)
    assert _common.value_key(aligned, FakeTensor, True) == "float32"
    assert _common.value_key(misaligned, FakeTensor, True) != _common.value_key(aligned, FakeTensor, True)
    assert _common.value_key(FakeTensor(4096, "float16"), FakeTensor, True) != "float32"


def test_value_key_holds_no_tensor():
    t = FakeTensor(4100)
    key = _common.value_key((t, FakeTensor(64)), FakeTensor, True)
    assert all(item is not t for item in key)


def test_value_key_rejects_unknown_types():
    with pytest.raises(_common.Unsupported):
        _common.value_key(object(), FakeTensor, True)
    with pytest.raises(_common.Unsupported):
        _common.value_key((1, 2), FakeTensor, False)  # tuples are an error before 3.3


def test_constexpr_key_separates_signed_zero_and_types():
    assert _common.constexpr_key(0.0) != _common.constexpr_key(-0.0)
    assert _common.constexpr_key(1.0) != _common.constexpr_key(True)
    assert _common.constexpr_key("a") == _common.constexpr_key("a")


def test_options_key_keeps_order_and_types():
    assert _common.options_key({"num_warps": 4, "num_stages": 2}) != _common.options_key({"num_stages": 2, "num_warps": 4})
    assert _common.options_key({"num_warps": 4}) != _common.options_key({"num_warps": 4.0})
    assert _common.options_key({"debug": True}) != _common.options_key({"debug": 1})


def test_kernel_cache_eviction_and_counters():
    cache = _cache.KernelCache("k", maxsize=2)
    with cache.lock:
        for key in "abc":
            cache.store(key, key.upper())
    assert list(cache.entries) == ["b", "c"]
    assert cache.info()["evictions"] == 1
    for _ in range(5):
        next(cache.hits)
    assert _cache.cache_info(cache).hits == 5
    cache.clear()
    assert _cache.cache_info(cache) == _cache.CacheInfo(hits=0, misses=0, entries=0, fallbacks={}, evictions=0)


def test_hit_counter_exact_under_threads():
    cache = _cache.KernelCache("k", maxsize=2)
    hit = cache.hits.__next__

    def work():
        for _ in range(20000):
            hit()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.info()["hits"] == 8 * 20000


def test_fallbacks_counted_by_reason_and_cleared():
    tritoncompat.cache_clear()
    _cache.count_fallback("interpreter")
    _cache.count_fallback("interpreter")
    _cache.count_fallback("warmup")
    assert tritoncompat.cache_info().fallbacks == {"interpreter": 2, "warmup": 1}
    tritoncompat.cache_clear()
    assert tritoncompat.cache_info().fallbacks == {}


def test_collected_cache_never_blocks_on_the_module_lock():
    # The garbage collector can run KernelCache.__del__ while this thread holds the lock (a
    # cache_info() call allocating): it must not wait for it (it once deadlocked the suite).
    cache = _cache.KernelCache("k", maxsize=2)
    next(cache.hits)
    before = _cache.cache_info().hits
    done = threading.Event()

    def collect_under_lock():
        with _cache._lock:
            cache.__del__()
        done.set()

    thread = threading.Thread(target=collect_under_lock, daemon=True)
    thread.start()
    assert done.wait(10), "KernelCache.__del__ blocked on the module lock"
    _cache._live.discard(cache)
    assert _cache.cache_info().hits == before  # the retired count replaces the live one


def test_a_cache_collected_while_cache_clear_runs_brings_back_no_count(monkeypatch):
    """A dropped launcher's cache is freed by the cyclic collector (the launcher's namespace holds
    the launcher), which may run in the middle of cache_clear(): on CPython 3.12+ at any
    eval-breaker check, e.g. inside the iteration of the live caches, after their weak reference
    died and before the cache was cleared. Its counts predate the clear and must stay dropped (a
    3.12 GPU run saw the previous test's hit after the clear: ``hits == 1`` after a call that
    raised)."""

    class Cycle:
        pass

    class CollectingWeakSet(weakref.WeakSet):
        def __iter__(self):
            gc.collect()  # the collector runs here, as it may at any point
            return super().__iter__()

    gc.disable()  # the cycle below is freed by the collection inside cache_clear(), not before
    try:
        cache = _cache.KernelCache("k", maxsize=2)
        next(cache.hits)
        cache.misses += 1
        holder = Cycle()
        holder.cache, holder.me = cache, holder
        monkeypatch.setattr(_cache, "_live", CollectingWeakSet(_cache._live))
        del cache, holder
        tritoncompat.cache_clear()
    finally:
        gc.enable()
    info = tritoncompat.cache_info()
    assert (info.hits, info.misses) == (0, 0), info
    # a cache made after the clear, counted, then collected: its counts stay
    cache = _cache.KernelCache("k", maxsize=2)
    next(cache.hits)
    del cache
    gc.collect()
    assert tritoncompat.cache_info().hits == 1
    # one collected while cache_info() takes its snapshot: counted once, by that very call
    gc.disable()
    try:
        cache = _cache.KernelCache("k", maxsize=2)
        next(cache.hits)
        next(cache.hits)
        holder = Cycle()
        holder.cache, holder.me = cache, holder
        del cache, holder
        assert tritoncompat.cache_info().hits == 3
    finally:
        gc.enable()
    assert tritoncompat.cache_info().hits == 3
