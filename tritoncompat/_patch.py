"""``patch()`` / ``unpatch()`` / ``patched()``: send every ``kernel[grid](...)`` through the fast
path. Originals are recorded from the owner's ``__dict__`` (not ``getattr``) and restored in
reverse order, so that after ``unpatch()`` they are ``is``-identical (pytest monkeypatch style).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, List, Tuple

from . import _autotune, _launch, _select

__all__ = ["patch", "unpatch", "patched", "is_patched"]

_MISSING = object()
_lock = threading.Lock()
_undo: List[Tuple[Any, str, Any]] = []  # (owner, name, original or _MISSING), in install order


def patch() -> bool:
    """Route every ``kernel[grid](...)`` in the process through the fast path, including the
    final launch of ``@triton.autotune`` and ``@triton.heuristics`` kernels.

    Idempotent. Returns ``True`` when the fast path is installed, ``False`` when the installed
    Triton has no backend (a ``TritonCompatWarning`` says why; launches stay Triton's own).

    >>> import tritoncompat
    >>> tritoncompat.patch()  # doctest: +SKIP
    True
    """
    sel = _select.backend()
    if sel.module is None:
        return False
    with _lock:
        if not _undo:
            targets = (sel.module.patch_targets(_launch.fast_launch, _launch.resolve)
                       + _autotune.patch_targets(_launch.fast_launch))
            for owner, name, replacement in targets:
                _undo.append((owner, name, owner.__dict__.get(name, _MISSING)))
                setattr(owner, name, replacement)
    return True


def unpatch() -> None:
    """Restore every attribute ``patch()`` replaced (``is``-identical originals). Idempotent.

    >>> tritoncompat.unpatch()  # doctest: +SKIP
    """
    with _lock:
        while _undo:
            owner, name, original = _undo.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def is_patched() -> bool:
    """True while ``patch()`` is in effect."""
    return bool(_undo)


@contextlib.contextmanager
def patched() -> Iterator[bool]:
    """Context manager: ``patch()`` on entry; on exit, ``unpatch()`` unless the patch was
    already in place before entering.

    >>> with tritoncompat.patched():  # doctest: +SKIP
    ...     add_kernel[grid](x, y, out, n, BLOCK=1024)
    """
    was_patched = is_patched()
    active = patch()
    try:
        yield active
    finally:
        if not was_patched:
            unpatch()
