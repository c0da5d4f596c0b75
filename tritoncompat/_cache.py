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
import os
import threading
import weakref
from collections import Counter, deque
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

__all__ = ["CacheInfo", "KernelCache", "count_fallback", "CountedAside", "clears", "count_handoff", "cache_info", "cache_clear"]

_lock = threading.Lock()
_fallbacks: Counter = Counter()
_handoffs: Counter = Counter()  # reason -> count (backends/_direct.py)
_own = 0  # compiled kernels whose hits launch at the driver
_retired = Counter()  # counts of kernel caches that were garbage-collected
# __del__ may run from the garbage collector at any allocation, even while this module holds
# _lock in the same thread: it only appends here (atomic), and readers drain under the lock.
# Each item is (epoch, counts): the counts of a cache since its last clear, in that epoch.
_retiring: "deque[Tuple[int, Dict[str, int]]]" = deque()
_live: "weakref.WeakSet[KernelCache]" = weakref.WeakSet()
# How many cache_clear() calls there were. A cache's counts belong to the epoch of its last clear
# (or creation): a cache the garbage collector finalizes while cache_clear() runs (its weak
# reference already dead, so not cleared; its __del__ after the drain) retires with an older
# epoch, and its counts, which predate the clear, are dropped instead of reappearing after it.
# (The collector runs at an allocation; on CPython 3.12+ at the next eval-breaker check, so at
# almost any point of Python code, inside the iteration of _live too.)
_epoch = 0


class CacheInfo(NamedTuple):
    """Counters of the fast path, as returned by :func:`tritoncompat.cache_info`.

    ``hits``: launches served by the fast path. ``misses``: launches that went through
    Triton's own path to compile or find a kernel and then filled the key cache.
    ``entries``: fast keys currently cached. ``fallbacks``: launches sent through Triton's own
    path on purpose, by reason. ``evictions``: entries dropped because a kernel's cache was full.
    ``own``: compiled kernels whose hits launch straight at the driver (the own launch, 3.3-3.9).
    ``handoffs``: what kept Triton's launcher instead, by reason: once per compiled kernel (however
    many fast keys reach it), and once per launch of an own-launch kernel that Triton's launcher made.
    """

    hits: int
    misses: int
    entries: int
    fallbacks: Mapping[str, int]
    evictions: int = 0
    own: int = 0
    handoffs: Mapping[str, int] = {}


def _count_value(counter: "itertools.count[int]") -> int:
    # itertools.count shows its next value only in its repr ("count(5)").
    return int(repr(counter)[6:-1])


class KernelCache:
    """Fast key -> backend entry for one kernel, bounded to ``maxsize`` entries."""

    __slots__ = ("name", "entries", "lock", "hits", "hits_base", "misses", "evictions", "maxsize", "epoch",
                 "verify_first", "verified", "__weakref__")

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
        # verification (TRITONCOMPAT_VERIFY's check): 0 on every hit; N on the first N hits of
        # each entry (an unknown release served on trust), counted in ``verified``
        self.verify_first = 0
        self.verified: Dict[int, Any] = {}
        with _lock:  # a cache_clear() either sees this cache or ran before it was made
            self.epoch = _epoch
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
        """Drop the entries and zero the counters; from now on they belong to the current epoch."""
        with self.lock:
            self.entries.clear()
            self.hits_base = _count_value(self.hits)
            self.misses = 0
            self.evictions = 0
            self.epoch = _epoch

    def __del__(self) -> None:
        try:
            info = self.info()
            info.pop("entries")
            _retiring.append((self.epoch, info))
        except Exception:  # interpreter shutdown: module globals may be gone
            pass


def _drain_retired() -> None:
    """Fold the counts of collected caches into ``_retired`` (the caller holds ``_lock``); counts
    from before the last cache_clear() are dropped."""
    while _retiring:
        epoch, info = _retiring.popleft()
        if epoch == _epoch:
            _retired.update(info)


def count_fallback(reason: str) -> None:
    """Count one launch that went through Triton's own path on purpose."""
    with _lock:
        _fallbacks[reason] += 1


class CountedAside:
    """Launches sent through Triton's own path under ``reason`` on a path where taking the lock of
    :func:`count_fallback` would be a visible share of each launch (a kernel that keeps missing):
    ``tick()`` (``next()`` of an ``itertools.count``, atomic under the GIL) numbers every launch
    1, 2, ...; ``probed()`` (another) counts those of them that tried the fast path instead, which
    are not fallbacks. :func:`cache_info` and :func:`cache_clear` fold the count into the
    fallbacks, exactly."""

    __slots__ = ("reason", "count", "tick", "probes", "probed", "folded", "__weakref__")

    def __init__(self, reason: str) -> None:
        self.reason, self.folded = reason, 0
        self.count, self.probes = itertools.count(1), itertools.count(1)
        self.tick, self.probed = self.count.__next__, self.probes.__next__
        with _lock:
            _aside.add(self)

    def fold(self) -> None:
        """Add the launches counted since the last fold to the fallbacks (the caller holds ``_lock``)."""
        # the probes first: a launch ticks before it probes, so a probe is never ahead of its tick (a
        # fold between the two counts that launch as a fallback for now, and a later fold settles it)
        probes = _count_value(self.probes) - 1
        fallbacks = _count_value(self.count) - 1 - probes
        if fallbacks > self.folded:
            _fallbacks[self.reason] += fallbacks - self.folded
            self.folded = fallbacks

    def close(self) -> None:
        """Fold, and stop counting (the kernel went back to its fast launcher)."""
        with _lock:
            self.fold()
            _aside.discard(self)


_aside: "weakref.WeakSet[CountedAside]" = weakref.WeakSet()


def clears() -> int:
    """How many times :func:`cache_clear` ran: the counters since the last one belong to this number."""
    return _epoch


def count_handoff(reason: Optional[str]) -> None:
    """Count one compiled kernel (or launch) kept on Triton's launcher, or (None) one own launch."""
    global _own
    with _lock:
        if reason is None:
            _own += 1
        else:
            _handoffs[reason] += 1


def cache_info(cache: Optional[KernelCache] = None) -> CacheInfo:
    """Sum the counters of every live kernel cache (or of one), plus the process's fallbacks."""
    with _lock:
        # Snapshot first, then drain: a cache the collector finalizes during the snapshot has
        # retired by the drain, and one in the snapshot cannot die; each is counted once.
        caches = [cache] if cache is not None else list(_live)
        _drain_retired()
        totals = Counter() if cache is not None else Counter(_retired)
        for aside in list(_aside):
            aside.fold()
        fallbacks = dict(_fallbacks)
        own, handoffs = _own, dict(_handoffs)
    for c in caches:
        totals.update(c.info())
    return CacheInfo(hits=totals["hits"], misses=totals["misses"], entries=totals["entries"],
                     fallbacks=fallbacks, evictions=totals["evictions"], own=own, handoffs=handoffs)


def cache_clear() -> None:
    """Drop every fast key and reset every counter. Triton's own caches are left alone."""
    global _epoch, _own
    with _lock:
        _epoch += 1  # first: whatever retires from now on with an older epoch is dropped
        caches = list(_live)  # the collector may finalize caches in here (see _epoch)
        _drain_retired()
        for aside in list(_aside):
            aside.fold()  # counted before the clear: dropped with the rest
        _fallbacks.clear()
        _handoffs.clear()
        _own = 0
        _retired.clear()
    for c in caches:
        c.clear()


def _after_fork_in_child() -> None:
    # A thread inside a miss (Triton compiling) holds its kernel's lock: the child has no such
    # thread, and would wait for it for good. Natively the child launches; so does it here.
    _lock._at_fork_reinit()
    for cache in list(_live):
        cache.lock._at_fork_reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
