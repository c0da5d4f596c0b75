"""tritoncompat: fast, verified, version-stable Triton kernel launches (Triton 2.1.0 - 3.9.0).

``import tritoncompat`` imports neither Triton nor torch and has no side effects; the backend for
the installed Triton is chosen on the first launch or ``patch()``.
"""

from . import _cache, _compat, _launch, _slot
from ._cache import CacheInfo, cache_clear
from ._compat import Config, Target, allocator, autotune, device_properties, do_bench, ensure_allocator, has, target
from ._errors import TritonCompatError, TritonCompatVerifyError, TritonCompatWarning
from ._patch import is_patched, patch, patched, unpatch
from ._version import TritonVersion, triton_version

__version__ = "0.1.0"


def cache_info(kernel=None) -> CacheInfo:
    """Counters of the fast path: ``hits``, ``misses``, ``entries``, ``evictions`` summed over
    every kernel (or for one ``kernel``), and ``fallbacks``, a mapping reason -> count of launches
    that went through Triton's own path (process-wide).

    >>> tritoncompat.cache_info()  # doctest: +SKIP
    CacheInfo(hits=1200, misses=3, entries=3, fallbacks={'interpreter': 2}, evictions=0)
    """
    if kernel is None:
        return _cache.cache_info()
    cache = _slot.cache_of(kernel)
    if cache is None:
        return CacheInfo(hits=0, misses=0, entries=0, fallbacks=_cache.cache_info().fallbacks, evictions=0)
    return _cache.cache_info(cache)


def __getattr__(name: str):
    # ``launch`` is resolved on first access (PEP 562), not at ``import tritoncompat``: with the
    # compiled accelerator it is a C dispatcher in front of ``_launch.launch``, so that first access
    # (``tritoncompat.launch``, or ``from tritoncompat import launch``) loads the accelerator, and
    # builds it if this machine and Python have never built it (once, about a second, cached). It
    # never imports Triton or torch.
    if name == "launch":
        globals()["launch"] = function = _launch.dispatcher()
        return function
    if name == "TensorDescriptor":
        # Triton's host-side class (3.4+) or one whose construction raises naming the release:
        # it imports Triton, so it is resolved on first access like ``launch``
        globals()[name] = found = _compat.tensor_descriptor_class()
        return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "triton_version",
    "TritonVersion",
    # what moved between releases (tritoncompat._compat; the device side is tritoncompat.language)
    "has",
    "ensure_allocator",
    "allocator",
    "target",
    "Target",
    "device_properties",
    "Config",
    "autotune",
    "do_bench",
    "TensorDescriptor",
]
