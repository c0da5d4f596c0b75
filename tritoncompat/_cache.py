"""Per-kernel key caches and the process-wide counters behind ``cache_info()``.

A :class:`KernelCache` belongs to one kernel (it lives as long as the kernel's launcher) and maps
fast keys (flat tuples that include the device) to entries a backend builds from the compiled
kernel. It never holds tensors: keys hold dtypes, small ints and constexpr values; entries hold
the compiled kernel and its launcher.

Counting is exact under threads: hits use ``next()`` on an ``itertools.count`` (atomic under the
GIL, no lock on the hot path); misses, evictions and fallbacks are counted under a lock, off the
hot path.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import Counter, deque
from typing import Any, Dict, Mapping, NamedTuple, Optional

__all__ = ["CacheInfo", "KernelCache", "count_fallback", "cache_info", "cache_clear"]

_lock = threading.Lock()
_fallbacks: Counter = Counter()
_retired = Counter()  # counts of kernel caches that were garbage-collected
# __del__ may run from the garbage collector at any allocation, even while this module holds
# _lock in the same thread: it only appends here (atomic), and readers drain under the lock.
_retiring: "deque[Dict[str, int]]" = deque()
_live: "weakref.WeakSet[KernelCache]" = weakref.WeakSet()


class CacheInfo(NamedTuple):
    """Counters of the fast path, as returned by :func:`tritoncompat.cache_info`.

    ``hits``: launches served by the fast path. ``misses``: launches that went through
    Triton's own path to compile or find a kernel and then filled the key cache.
    ``entries``: fast keys currently cached. ``fallbacks``: launches sent through Triton's own
    path on purpose, by reason. ``evictions``: entries dropped because a kernel's cache was full.
    """

    hits: int
    misses: int
    entries: int
    fallbacks: Mapping[str, int]
    evictions: int = 0


def _count_value(counter: "itertools.count[int]") -> int:
    # itertools.count shows its next value only in its repr ("count(5)").
    return int(repr(counter)[6:-1])


class KernelCache:
    """Fast key -> backend entry for one kernel, bounded to ``maxsize`` entries."""

    __slots__ = ("name", "entries", "lock", "hits", "hits_base", "misses", "evictions", "maxsize", "__weakref__")

    def __init__(self, name: str, maxsize: int) -> None:
        self.name = name
        self.entries: Dict[Any, Any] = {}
        # Re-entrant: Triton's own path may run user code (hooks, grid callables) that launches
        # the same kernel again while the miss path holds the lock.
        self.lock = threading.RLock()
        # Generated launchers bind ``hits.__next__`` once; clearing moves ``hits_base`` instead of
        # replacing the counter.
        self.hits = itertools.count()
        self.hits_base = 0
        self.misses = 0
        self.evictions = 0
        self.maxsize = maxsize
        with _lock:
            _live.add(self)

    def store(self, key: Any, entry: Any) -> None:
        """Insert an entry (the caller holds ``self.lock``), evicting the oldest when full."""
        entries = self.entries
        if key not in entries and len(entries) >= self.maxsize:
            del entries[next(iter(entries))]
            self.evictions += 1
        entries[key] = entry

    def info(self) -> Dict[str, int]:
        return {"hits": _count_value(self.hits) - self.hits_base, "misses": self.misses,
                "entries": len(self.entries), "evictions": self.evictions}

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.hits_base = _count_value(self.hits)
            self.misses = 0
            self.evictions = 0

    def __del__(self) -> None:
        try:
            info = self.info()
            info.pop("entries")
            _retiring.append(info)
        except Exception:  # interpreter shutdown: module globals may be gone
            pass


def _drain_retired() -> None:
    """Fold the counts of collected caches into ``_retired`` (the caller holds ``_lock``)."""
    while _retiring:
        _retired.update(_retiring.popleft())


def count_fallback(reason: str) -> None:
    """Count one launch that went through Triton's own path on purpose."""
    with _lock:
        _fallbacks[reason] += 1


def cache_info(cache: Optional[KernelCache] = None) -> CacheInfo:
    """Sum the counters of every live kernel cache (or of one), plus the process's fallbacks."""
    with _lock:
        _drain_retired()
        caches = [cache] if cache is not None else list(_live)
        totals = Counter() if cache is not None else Counter(_retired)
        fallbacks = dict(_fallbacks)
    for c in caches:
        totals.update(c.info())
    return CacheInfo(hits=totals["hits"], misses=totals["misses"], entries=totals["entries"],
                     fallbacks=fallbacks, evictions=totals["evictions"])


def cache_clear() -> None:
    """Drop every fast key and reset every counter. Triton's own caches are left alone."""
    with _lock:
        _drain_retired()
        caches = list(_live)
        _fallbacks.clear()
        _retired.clear()
    for c in caches:
        c.clear()
