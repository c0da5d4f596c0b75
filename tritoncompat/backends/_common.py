"""Pieces shared by the backends: the value classes of the fast key, and the small helpers that
generated launchers call off the hot path."""

from __future__ import annotations

import sys
from typing import Any, Dict, Tuple

__all__ = [
    "Unsupported", "Stale", "FLOAT", "INT_CODE", "int_code", "value_key", "constexpr_key",
    "options_key", "tensor_type", "check_globals",
]


class Unsupported(Exception):
    """Raised by the key code for a value the fast path does not handle; the launch goes
    through Triton's own path, counted under ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Stale(Exception):
    """Raised by a launcher whose captured driver is no longer Triton's active driver."""


# Key of a float argument: every release passes Python floats as fp32 and does not specialise
# on their value.
FLOAT = "fp32"

# The int classes of every release: i32 / i64 / u64 by range (3.6+ raises beyond 64 bits, older
# releases fail later: either way a miss, and Triton's own path raises). Code = 2*class + D bit
# (divisible by 16); ``== 1`` has its own code (3.3+ turns it into a constexpr). Generated
# launchers inline this expression; :func:`int_code` is the reference it must equal.
INT_CODE = (
    "(16 if {v} == 1 else (not {v} & 15) + ("
    "0 if -0x80000000 <= {v} <= 0x7fffffff else "
    "2 if -0x8000000000000000 <= {v} <= 0x7fffffffffffffff else "
    "4 if 0 <= {v} <= 0xffffffffffffffff else 6))"
)


def int_code(v: int) -> int:
    if v == 1:
        return 16
    if -(2**31) <= v <= 2**31 - 1:
        cls = 0
    elif -(2**63) <= v <= 2**63 - 1:
        cls = 2
    elif 0 <= v <= 2**64 - 1:
        cls = 4
    else:
        cls = 6
    return (v % 16 == 0) + cls


def tensor_type() -> type:
    """``torch.Tensor`` if torch is imported, else a class nothing is an instance of."""
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else type("NoTensor", (), {})


def value_key(v: Any, tensor: type, tuples: bool) -> Any:
    """Fast-key component of a non-constexpr argument.

    Exact ``torch.Tensor`` aligned to 16 bytes -> its dtype; ``int`` -> :data:`INT_CODE`;
    ``float`` -> :data:`FLOAT`; anything else -> a tuple whose first item is the value's type,
    so no two kinds of value can share a component.
    """
    t = type(v)
    if t is tensor and not v.data_ptr() & 15:
        return v.dtype
    if t is int:
        return int_code(v)
    if t is float:
        return FLOAT
    if v is None or t is bool:
        return (t, v)
    if hasattr(v, "data_ptr"):
        return (t, v.dtype, not v.data_ptr() & 15)
    if tuples and isinstance(v, tuple):  # 3.3+: tuples (and namedtuples) are specialised per item
        return (t,) + tuple([element_key(e, tensor) for e in v])
    raise Unsupported(f"argument of type {t.__module__}.{t.__qualname__}")


def element_key(v: Any, tensor: type) -> Any:
    """Key of one item of a tuple argument: a value, or a ``tl.constexpr`` inside the tuple."""
    if type(v).__name__ == "constexpr":
        return (type(v), repr(v))
    return value_key(v, tensor, True)


def constexpr_key(v: Any) -> Any:
    """Fast-key component of a constexpr parameter's value (ints are inlined as the value).

    Triton keys constexprs on ``str()`` of the value, so the type goes next to it (``1``,
    ``1.0`` and ``True`` hash equal but compile differently) and floats are keyed by ``repr``
    (``0.0 == -0.0``). ``JITFunction`` values add their ``cache_key`` (3.6+ keys on it).
    """
    t = type(v)
    if t is bool or v is None or t is str:
        return (t, v)
    if hasattr(v, "data_ptr"):
        raise Unsupported("tensor passed as a constexpr")
    cache_key = getattr(v, "cache_key", None) if hasattr(type(v), "cache_key") else None
    return (t, repr(v), cache_key)


def options_key(options: Dict[str, Any]) -> Tuple:
    """Option keywords exactly as passed, in order (Triton keys on ``str(options)``)."""
    return tuple([(k, v) if type(v) is int else (k, type(v), repr(v)) for k, v in options.items()])


def check_globals(kernel: Any) -> None:
    """Triton's guard (3.0+): a global the compiled kernel used has changed -> RuntimeError,
    with Triton's message."""
    not_present = object()
    for (name, _), (val, globals_dict) in kernel.used_global_vals.items():
        if (new_val := globals_dict.get(name, not_present)) != val:
            raise RuntimeError(
                f"Global variable {name} has changed since we compiled this kernel, from {val} to {new_val}")
