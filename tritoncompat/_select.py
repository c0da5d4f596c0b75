"""The backend chosen for this process: :func:`backend` (made on first use), :func:`reset`
(re-read the environment, drop everything built) and :func:`status` (the report).

Below ``_launch`` and the backends' users; above the leaves. The library imports a backend module
only here, when the first launch or ``patch()`` asks for it (it imports Triton); the CPU fake of
``tritoncompat.testing`` reads the launcher layout of the same module.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from types import ModuleType
from typing import Any, Dict, Optional

from . import _accel, _config, _slot, _version
from ._errors import TritonCompatError, TritonCompatWarning, user_stacklevel

__all__ = ["Selection", "backend", "reset", "status"]


class Selection:
    """The backend chosen for this process (loaded on first use)."""

    def __init__(self) -> None:
        self.config = _config.read()
        self.detected = _version.detect()
        self.module: Optional[ModuleType] = None
        self.reason: Optional[str] = None  # why there is no backend
        name = self.config.backend or self.detected.backend
        if self.config.backend is not None and self.config.backend not in _version.BACKENDS:
            _config.warn_bad_value("TRITONCOMPAT_BACKEND", self.config.backend,
                                   f"a backend ({', '.join(sorted(_version.BACKENDS))})",
                                   f"the release's: {self.detected.backend}")
            name = self.detected.backend
        if self.config.disable:
            self.reason = "disabled by TRITONCOMPAT_DISABLE"
        elif self.detected.version is None:
            self.reason = "triton is not installed"
        elif name is None:
            self.reason = f"unsupported triton release {self.detected.version}"
        elif name not in _version.BACKENDS:
            self.reason = f"no backend yet for triton {self.detected.version} ({name})"
        else:
            try:
                self.module = importlib.import_module(f"tritoncompat.backends.{name}")
            except ImportError as exc:
                self.reason = f"backend {name} cannot serve triton {self.detected.version}: {exc}"
        if self.reason is not None and not self.config.disable:
            message = (
                f"tritoncompat: {self.reason}; every launch goes through Triton's own path. "
                f"Supported releases: {', '.join(r for r, b in _version.RELEASES.items() if b in _version.BACKENDS)}. "
                "Set TRITONCOMPAT_BACKEND=<name> to force a backend, TRITONCOMPAT_STRICT=1 to make this "
                "an error, TRITONCOMPAT_DISABLE=1 to silence it.")
            if self.config.strict:
                raise TritonCompatError(message)
            warnings.warn(message, TritonCompatWarning, stacklevel=user_stacklevel())


_selection: Optional[Selection] = None
_lock = threading.Lock()

if hasattr(os, "register_at_fork"):  # a fork while another thread holds it must not leave it held in the child
    os.register_at_fork(after_in_child=_lock._at_fork_reinit)


def backend() -> Selection:
    """The selection for this process, made on first call."""
    global _selection
    if _selection is None:
        with _lock:
            if _selection is None:
                _selection = Selection()
    return _selection


def reset() -> None:
    """Re-read the environment and re-select the backend (and whether the accelerator is on);
    drop every generated launcher, key cache and memo."""
    global _selection
    _accel.reset()
    with _lock:
        _slot.forget_all()
        _selection = None


def status() -> Dict[str, Any]:
    """What was found and chosen: the report of ``python -m tritoncompat``."""
    sel = backend()
    return {
        "triton": sel.detected.version,
        "release": sel.detected.release,
        "backend": sel.module.NAME if sel.module else None,
        "fast_path": sel.module is not None,
        "reason": sel.reason,
        "features": sel.module.describe() if sel.module else None,
        "verify": sel.config.verify,
        "accelerator": _accel_state(sel),
    }


def _accel_state(sel: Selection) -> str:
    module = _accel.load()
    if module is not None and not getattr(sel.module, "ACCELERATED", False):
        return f"dispatch only: hits are served in C on 3.0+ alone; {_accel.state()}"
    return _accel.state()
