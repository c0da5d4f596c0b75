"""Where a kernel keeps what tritoncompat built for it (a leaf: only ``_errors`` below it).

A kernel object (``JITFunction``, ``Autotuner``, ``Heuristics``) holds, in its ``__dict__``:

* ``ATTR``: its launcher: a generated fast launcher (Python, or the C accelerator in front of one),
  or a forwarder to Triton's own path (counted). The C dispatchers of ``_accel.c`` read it there.
* ``CACHE_ATTR``: the key cache of that launcher (``cache_info(kernel)``), stored explicitly.
* ``MEMO_ATTR``: the autotuner memo of an ``Autotuner``.

Every write goes through :func:`install` / :func:`install_memo` / :func:`forget`, under one
re-entrant lock, and every kernel written to is remembered in one weak registry, so that
:func:`forget_all` (``reload()``) reaches every one of them. A kernel's slots live and die with it.
"""

from __future__ import annotations

import os
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, Optional

from ._errors import TritonCompatWarning, user_stacklevel

__all__ = ["ATTR", "CACHE_ATTR", "MEMO_ATTR", "TRITON_RUN_ATTR", "lock", "install", "install_memo", "forget", "forget_all",
           "cache_of", "warn_once"]

ATTR = "_tritoncompat_launch"
CACHE_ATTR = "_tritoncompat_cache"
MEMO_ATTR = "_tritoncompat_memo"
# 2.1: Triton's generated run of a kernel, kept when something replaces ``kernel.run`` (never
# dropped: after a replacement it is the only way to Triton's own path for that kernel)
TRITON_RUN_ATTR = "_tritoncompat_triton_run"

# Re-entrant: building a launcher (under the lock) may install another kernel's (a forwarder).
lock = threading.RLock()
_kernels: Dict[int, "weakref.ref[Any]"] = {}  # every kernel holding a slot
_warned: set = set()  # id() of the kernels already warned about

if hasattr(os, "register_at_fork"):  # a fork while another thread holds it must not leave it held in the child
    os.register_at_fork(after_in_child=lock._at_fork_reinit)


def _remember(kernel: Any) -> None:
    key = id(kernel)
    if key not in _kernels:
        _kernels[key] = weakref.ref(kernel, lambda _, key=key: _kernels.pop(key, None))


def install(kernel: Any, fast: Callable[..., Any], cache: Any = None) -> Callable[..., Any]:
    """Make ``fast`` the launcher of ``kernel`` (and ``cache`` its key cache; None: it has none)."""
    with lock:
        slots = vars(kernel)
        slots[ATTR] = fast
        if cache is None:
            slots.pop(CACHE_ATTR, None)
        else:
            slots[CACHE_ATTR] = cache
        _remember(kernel)
    return fast


def install_memo(tuner: Any, memo: Any) -> Any:
    """Keep ``memo`` as the autotuner memo of ``tuner`` unless another thread was first; the one kept."""
    with lock:
        kept = vars(tuner).setdefault(MEMO_ATTR, memo)
        _remember(tuner)
    return kept


def forget(kernel: Any) -> None:
    """Drop the launcher of ``kernel`` (the next launch builds it anew)."""
    with lock:
        vars(kernel).pop(ATTR, None)
        vars(kernel).pop(CACHE_ATTR, None)


def forget_all() -> None:
    """Drop every launcher, key cache and memo tritoncompat installed, and the warnings given."""
    with lock:
        for ref in list(_kernels.values()):
            kernel = ref()
            if kernel is not None:
                for name in (ATTR, CACHE_ATTR, MEMO_ATTR):
                    vars(kernel).pop(name, None)
        _kernels.clear()
        _warned.clear()


def cache_of(kernel: Any) -> Optional[Any]:
    """The key cache of ``kernel`` (None before its first fast launch, or if it has none)."""
    slots = getattr(kernel, "__dict__", None)
    return None if slots is None else slots.get(CACHE_ATTR)


def warn_once(kernel: Any, message: str) -> None:
    """One ``TritonCompatWarning`` per kernel, pointing at the user's call."""
    with lock:
        if id(kernel) in _warned:
            return
        _warned.add(id(kernel))
    warnings.warn(message, TritonCompatWarning, stacklevel=user_stacklevel())
