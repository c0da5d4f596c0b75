"""``patch()`` / ``unpatch()`` / ``patched()``: send every ``kernel[grid](...)`` through the fast
path, in a process where other libraries may replace the same attributes.

Originals are recorded from the owner's ``__dict__`` (not ``getattr``), pytest monkeypatch style.
What is *ours* is tracked per attribute:

* ``patch()`` replaces an attribute only while it is Triton's own (or a replacement of an earlier
  ``patch()``); one that another library already replaced is left to it, and the launches it
  governs go through that library's code (the fast path then serves what that code calls);
* ``unpatch()`` restores an attribute only while it still holds our replacement; one that another
  library replaced since is left to it, and our replacement, which that library may still call as
  "the original", turns inert: it does what the attribute it replaced did;
* between the two, every entry point that skips ``kernel.run`` checks that ``kernel.run`` is still
  Triton's own or ours (``backends/_common.intact``), so a library that restores or replaces one
  attribute on its own never leaves a launch half on the fast path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from . import _autotune, _launch, _select
from .backends import _common

__all__ = ["patch", "unpatch", "patched", "is_patched", "left_alone"]

_MISSING = object()
_log = logging.getLogger("tritoncompat")


class _Installed(NamedTuple):
    owner: Any
    name: str
    original: Any  # what the owner's __dict__ held (or _MISSING)
    ours: Any


_lock = threading.RLock()
_installed: List[_Installed] = []  # in install order
_left: List[Tuple[Any, str, Any]] = []  # (owner, name, another library's value) that patch() left alone
_switch: Optional[_common.Switch] = None  # the current patch()'s; None while unpatched
# Every replacement any patch() installed -> the original it replaced: one of ours found in place
# (an earlier patch()'s, put back by a library that had kept it) is replaced as that original.
_ours: Dict[int, Tuple[Any, Any]] = {}

if hasattr(os, "register_at_fork"):  # a fork while another thread holds it must not leave it held in the child
    os.register_at_fork(after_in_child=_lock._at_fork_reinit)


def _original_of(current: Any) -> Any:
    """What a replacement of ours in place stands for (itself, if it is not one of ours)."""
    known = _ours.get(id(current))
    return known[1] if known is not None and known[0] is current else current


def patch() -> bool:
    """Route every ``kernel[grid](...)`` in the process through the fast path, including the
    final launch of ``@triton.autotune`` and ``@triton.heuristics`` kernels.

    Idempotent. Returns ``True`` when the fast path is installed, ``False`` when the installed
    Triton has no backend (a ``TritonCompatWarning`` says why; launches stay Triton's own).
    An attribute another library has replaced already (``JITFunction.run``, ``Autotuner.run``, ...)
    is left to it: those launches run its replacement, as they would without tritoncompat
    (:func:`left_alone` lists them).

    >>> import tritoncompat
    >>> tritoncompat.patch()  # doctest: +SKIP
    True
    """
    global _switch
    sel = _select.backend()
    if sel.module is None:
        return False
    with _lock:
        if _switch is not None:
            return True
        switch = _common.Switch()
        targets = (sel.module.patch_targets(_launch.fast_launch, _launch.resolve, switch)
                   + _autotune.patch_targets(_launch.fast_launch, switch))
        for owner, name, replacement in targets:
            current = owner.__dict__.get(name, _MISSING)
            original = _original_of(current)
            if original is not _MISSING and not _common.is_tritons(original):
                _left.append((owner, name, current))
                _log.info("tritoncompat: %s.%s was replaced by %r (module %s): left to it, its launches run it",
                          owner.__name__, name, current, getattr(current, "__module__", "?"))
                continue
            _ours[id(replacement)] = (replacement, original)
            _common.register_native(replacement)
            _installed.append(_Installed(owner, name, original, replacement))
            setattr(owner, name, replacement)
        _note_replaced_wrappers()
        _switch = switch
    return True


def _note_replaced_wrappers() -> None:
    """List in ``left_alone()`` the wrappers' ``run`` another library replaced that patch() had no
    replacement for (``Autotuner.run`` replaced before the memo could read Triton's; ``Heuristics.run``):
    their launches run that library's code, the fast path serving what it calls."""
    module = sys.modules.get("triton.runtime.autotuner")
    for name in ("Autotuner", "Heuristics"):
        owner = getattr(module, name, None)
        current = vars(owner).get("run", _MISSING) if owner is not None else _MISSING
        if (current is not _MISSING and not _common.is_tritons(_original_of(current))
                and not any(o is owner and n == "run" for o, n, _ in _left)
                and not any(i.owner is owner and i.name == "run" for i in _installed)):
            _left.append((owner, "run", current))


def unpatch() -> None:
    """Undo ``patch()``: restore (``is``-identical) every attribute that still holds our
    replacement; leave one that another library replaced since (our replacement, if that library
    calls it, now does what the original did). Idempotent.

    >>> tritoncompat.unpatch()  # doctest: +SKIP
    """
    global _switch
    with _lock:
        if _switch is None:
            return
        _switch.on = False
        while _installed:
            owner, name, original, ours = _installed.pop()
            if owner.__dict__.get(name, _MISSING) is not ours:
                _log.info("tritoncompat: %s.%s was replaced after patch(): left as it is", owner.__name__, name)
                continue
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _left.clear()
        _switch = None


def is_patched() -> bool:
    """True while ``patch()`` is in effect."""
    return _switch is not None


def left_alone() -> List[str]:
    """The attributes the current ``patch()`` left to another library that had replaced them
    (``"JITFunction.run: <replacement>"``); empty while unpatched."""
    with _lock:
        return [f"{owner.__name__}.{name}: {value!r}" for owner, name, value in _left]


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
