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

from . import _accel, _config, _doctor, _slot, _version
from ._errors import TritonCompatError, TritonCompatWarning, user_stacklevel

__all__ = ["Selection", "backend", "reset", "status", "VERIFY_FIRST"]

# An unknown release served on trust (TRITONCOMPAT_TRUST_UNKNOWN=1): the first hits of each cache
# entry that are checked against Triton's own key (TRITONCOMPAT_VERIFY=1 checks every hit).
VERIFY_FIRST = 3


class Selection:
    """The backend chosen for this process (loaded on first use)."""

    def __init__(self) -> None:
        self.config = _config.read()
        self.detected = _version.detect()
        self.module: Optional[ModuleType] = None
        self.reason: Optional[str] = None  # why there is no backend
        self.diagnosis: Optional[_doctor.Diagnosis] = None  # the doctor's, for a release not in the table
        self.verify_first = 0  # each cache entry's hits verified: 0 every hit (when verify is on), N the first N
        name = self.config.backend or self.detected.backend
        if self.config.backend is not None and self.config.backend not in _version.BACKENDS:
            _config.warn_bad_value("TRITONCOMPAT_BACKEND", self.config.backend,
                                   f"a backend ({', '.join(sorted(_version.BACKENDS))})",
                                   f"the release's: {self.detected.backend}")
            name = self.detected.backend
        trusted = False
        if name is None and self.detected.version is not None and not self.config.disable:
            self.diagnosis = _diagnose(self.detected)
            if self.config.trust_unknown and self.diagnosis is not None and _doctor.trusted(self.diagnosis):
                name, trusted = self.diagnosis.backend, True
                self.verify_first = 0 if self.config.verify else VERIFY_FIRST
                self.config = self.config._replace(verify=True)
        if self.config.disable:
            self.reason = "disabled by TRITONCOMPAT_DISABLE"
        elif self.detected.version is None:
            self.reason = "triton is not installed"
        elif name is None:
            self.reason = f"unsupported triton release {self.detected.version}"
            if self.diagnosis is not None:
                self.reason += f" (doctor: {self.diagnosis.verdict})"
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
                f"Supported releases: {', '.join(sorted((r for r, b in _version.RELEASES.items() if b in _version.BACKENDS), key=_version.release_key))}. "
                "Set TRITONCOMPAT_BACKEND=<name> to force a backend, TRITONCOMPAT_STRICT=1 to make this "
                "an error, TRITONCOMPAT_DISABLE=1 to silence it.")
            if self.config.strict:
                raise TritonCompatError(message)
            warnings.warn(message, TritonCompatWarning, stacklevel=user_stacklevel())
        elif trusted:
            warnings.warn(
                f"tritoncompat: triton {self.detected.version} is not a known release; served by {name} on trust "
                f"(TRITONCOMPAT_TRUST_UNKNOWN=1), "
                + (f"each new cache entry's first {self.verify_first} hits" if self.verify_first else "every hit")
                + f" checked against Triton's own key. doctor: "
                f"{self.diagnosis.verdict}", TritonCompatWarning, stacklevel=user_stacklevel())


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
    info = {
        "triton": sel.detected.version,
        "release": sel.detected.release,
        "backend": sel.module.NAME if sel.module else None,
        "fast_path": sel.module is not None,
        "reason": sel.reason,
        "features": sel.module.describe() if sel.module else None,
        "verify": sel.config.verify,
        "accelerator": _accel_state(sel),
    }
    if sel.diagnosis is not None:  # a release not in the table: the doctor's verdict on it
        info["doctor"] = sel.diagnosis.verdict
    return info


def _diagnose(detected: _version.Detected) -> Optional[_doctor.Diagnosis]:
    """The doctor's verdict on a release the table does not know, or None when the doctor itself
    failed (then the release keeps Triton's own path, as any unknown release)."""
    try:
        return _doctor.diagnose(detected=detected)
    except Exception:  # never break a launch over the diagnosis: Triton's own path stays
        return None


def _accel_state(sel: Selection) -> str:
    module = _accel.load()
    if module is not None and not getattr(sel.module, "ACCELERATED", False):
        return f"dispatch only: hits are served in C on 3.0+ alone; {_accel.state()}"
    return _accel.state()
