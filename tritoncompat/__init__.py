"""tritoncompat: fast, verified, version-stable Triton kernel launches (Triton 2.1.0 - 3.9.0).

``import tritoncompat`` imports neither Triton nor torch and has no side effects; the backend for
the installed Triton is chosen on the first launch or ``patch()``.
"""

from ._cache import CacheInfo, cache_clear, cache_info
from ._launch import TritonCompatError, TritonCompatVerifyError, TritonCompatWarning, launch
from ._patch import is_patched, patch, patched, unpatch

__version__ = "0.1.0"

__all__ = [
    "launch",
    "patch",
    "unpatch",
    "patched",
    "is_patched",
    "cache_info",
    "cache_clear",
    "CacheInfo",
    "TritonCompatWarning",
    "TritonCompatError",
    "TritonCompatVerifyError",
]
