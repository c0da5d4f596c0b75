"""The exceptions and warnings of tritoncompat (a leaf: imports nothing of the package).

Public: :class:`TritonCompatWarning`, :class:`TritonCompatError`, :class:`TritonCompatVerifyError`.
Internal: :class:`Unsupported` and :class:`Stale`, raised by generated launchers to send one launch
through Triton's own path; :func:`user_stacklevel`, so that every warning points at the user's call.
"""

from __future__ import annotations

import os
import sys

__all__ = ["TritonCompatWarning", "TritonCompatError", "TritonCompatVerifyError", "Unsupported", "Stale",
           "user_stacklevel", "BUILD_FAILED"]

# The fallback reason of a kernel whose fast path (launcher, accelerator, memo) could not be built.
BUILD_FAILED = "fast path disabled: its build failed"


class TritonCompatWarning(UserWarning):
    """tritoncompat could not take the fast path for a reason the user should know about
    (an unsupported Triton release, a kernel whose fast path failed)."""


class TritonCompatError(RuntimeError):
    """``TRITONCOMPAT_STRICT=1`` and the installed Triton has no backend."""


class TritonCompatVerifyError(AssertionError):
    """``TRITONCOMPAT_VERIFY=1``: the fast key and Triton's own key picked different kernels."""


class Unsupported(Exception):
    """Raised by the key code for a value the fast path does not handle; the launch goes
    through Triton's own path, counted under ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stale(Exception):
    """Raised by a launcher whose captured driver is no longer Triton's active driver."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by the caller point at the first frame
    outside tritoncompat (the user's call), however many of our frames, Python or generated
    (``<tritoncompat ...>``), lie between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE_DIR)
                                 or frame.f_code.co_filename.startswith("<tritoncompat")):
        frame, level = frame.f_back, level + 1
    return level
