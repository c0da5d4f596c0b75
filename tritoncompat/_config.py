"""Environment variables, read once when the backend is loaded (never on a launch).

``tritoncompat._launch.reload()`` re-reads them (tests, or a process that changes them on
purpose before its first launch).
"""

from __future__ import annotations

import os
from typing import NamedTuple, Optional

__all__ = ["Config", "read", "ENV_VARS"]

ENV_VARS = {
    "TRITONCOMPAT_DISABLE": "1: every launch goes through Triton's own path",
    "TRITONCOMPAT_BACKEND": "force a backend (v2_1, v2_2, v2_3, v3_0, v3_3) whatever the release",
    "TRITONCOMPAT_STRICT": "1: an unsupported release raises instead of falling back",
    "TRITONCOMPAT_VERIFY": "1: every fast hit is checked against Triton's own key computation",
    "TRITONCOMPAT_MAX_ENTRIES": "fast-key entries kept per kernel and device (default 1024)",
    "TRITONCOMPAT_ACCEL": "0: keep the hit path in Python (no compiled accelerator)",
    "TRITONCOMPAT_CACHE_DIR": "where the compiled accelerator is built (default ~/.cache/tritoncompat)",
}

_TRUE = ("1", "true", "yes", "on", "y")


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in _TRUE


class Config(NamedTuple):
    disable: bool
    backend: Optional[str]
    strict: bool
    verify: bool
    max_entries: int


def read() -> Config:
    raw_max = os.environ.get("TRITONCOMPAT_MAX_ENTRIES", "1024")
    try:
        max_entries = int(raw_max)
    except ValueError:
        raise ValueError(f"TRITONCOMPAT_MAX_ENTRIES must be a positive integer, got {raw_max!r}") from None
    if max_entries < 1:
        raise ValueError(f"TRITONCOMPAT_MAX_ENTRIES must be a positive integer, got {raw_max!r}")
    return Config(
        disable=_flag("TRITONCOMPAT_DISABLE"),
        backend=os.environ.get("TRITONCOMPAT_BACKEND") or None,
        strict=_flag("TRITONCOMPAT_STRICT"),
        verify=_flag("TRITONCOMPAT_VERIFY"),
        max_entries=max_entries,
    )
