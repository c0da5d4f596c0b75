"""Environment variables, read once when the backend is loaded (never on a launch).

``tritoncompat._launch.reload()`` re-reads them (tests, or a process that changes them on
purpose before its first launch). Every ``TRITONCOMPAT_*`` variable is read here, by one of
:func:`flag` / :func:`positive_int`: a value that is not one the variable takes never raises (a
variable set in a job script must not break every launch of the process): it gives one
``TritonCompatWarning`` naming the variable and the value, and the default is used.
"""

from __future__ import annotations

import os
import warnings
from typing import NamedTuple, Optional

from ._errors import TritonCompatWarning, user_stacklevel

__all__ = ["Config", "read", "ENV_VARS", "flag", "positive_int", "warn_bad_value"]

ENV_VARS = {
    "TRITONCOMPAT_DISABLE": "1: every launch goes through Triton's own path",
    "TRITONCOMPAT_BACKEND": "force a backend (v2_1, v2_2, v2_3, v3_0, v3_3) whatever the release",
    "TRITONCOMPAT_STRICT": "1: an unsupported release raises instead of falling back",
    "TRITONCOMPAT_VERIFY": "1: every fast hit is checked against Triton's own key computation",
    "TRITONCOMPAT_TRUST_UNKNOWN": "1: an unknown release that `doctor` finds identical to a known one on the JIT "
                                  "path and every probe is served by that release's backend (first hits verified)",
    "TRITONCOMPAT_MAX_ENTRIES": "fast-key entries kept per kernel and device (default 1024)",
    "TRITONCOMPAT_ACCEL": "0: keep the hit path in Python (no compiled accelerator)",
    "TRITONCOMPAT_DIRECT": "0: keep Triton's launcher at the end of a hit (no own launch)",
    "TRITONCOMPAT_CACHE_DIR": "where the compiled accelerator is built (default ~/.cache/tritoncompat)",
}

_TRUE = ("1", "true", "yes", "on", "y")
_FALSE = ("0", "false", "no", "off", "n", "")
_warned: set = set()  # (variable, value) pairs already warned about: once per process


def warn_bad_value(name: str, value: str, expected: str, default: str) -> None:
    """One ``TritonCompatWarning`` per process and (variable, value): ``name=value`` is not
    ``expected``, ``default`` is used instead."""
    if (name, value) in _warned:
        return
    _warned.add((name, value))
    warnings.warn(f"tritoncompat: {name}={value!r} is not {expected}; using the default ({default}). "
                  f"Fix or unset {name}.", TritonCompatWarning, stacklevel=user_stacklevel())


def flag(name: str, default: bool = False) -> bool:
    """A yes/no variable: ``1 true yes on y`` / ``0 false no off n`` (any case) or unset."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    warn_bad_value(name, raw, "a yes/no value (1/0, true/false, yes/no, on/off)", "1" if default else "0")
    return default


def positive_int(name: str, default: int) -> int:
    """A variable that holds an integer >= 1, or unset."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        warn_bad_value(name, raw, "a positive integer", str(default))
        return default
    return value


class Config(NamedTuple):
    disable: bool
    backend: Optional[str]
    strict: bool
    verify: bool
    max_entries: int
    trust_unknown: bool = False


def read() -> Config:
    return Config(
        disable=flag("TRITONCOMPAT_DISABLE"),
        backend=(os.environ.get("TRITONCOMPAT_BACKEND") or "").strip() or None,
        strict=flag("TRITONCOMPAT_STRICT"),
        verify=flag("TRITONCOMPAT_VERIFY"),
        max_entries=positive_int("TRITONCOMPAT_MAX_ENTRIES", 1024),
        trust_unknown=flag("TRITONCOMPAT_TRUST_UNKNOWN"),
    )
