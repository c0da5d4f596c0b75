"""Which block pointers ``tritoncompat.language`` hands out: ``TRITONCOMPAT_BLOCK_PTR``, read once."""
import os

from . import emulated, native
from ._block_ptr import HAS_EMULATION, HAS_NATIVE


def _choose(value):
    value = (value or "auto").strip().lower()
    if value not in ("auto", "native", "emulated"):
        raise ImportError(f"TRITONCOMPAT_BLOCK_PTR={value!r}: expected 'auto', 'native' or 'emulated'")
    if value == "native" and not HAS_NATIVE:
        raise ImportError("TRITONCOMPAT_BLOCK_PTR=native: this Triton has no block pointers (3.9.0 removed them)")
    if value == "emulated" and not HAS_EMULATION:
        raise ImportError("TRITONCOMPAT_BLOCK_PTR=emulated needs Triton 3.3+ (tl.tuple values)")
    if value == "auto":
        return native if HAS_NATIVE else emulated
    return native if value == "native" else emulated


MODE = _choose(os.environ.get("TRITONCOMPAT_BLOCK_PTR"))
