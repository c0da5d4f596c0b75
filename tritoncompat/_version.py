"""Which backend serves the installed Triton: one literal table, the only reader of
``triton.__version__``."""

from __future__ import annotations

from typing import NamedTuple, Optional

__all__ = ["BACKENDS", "RELEASES", "Detected", "detect", "backend_for"]

# Every supported release -> the backend module (``tritoncompat.backends.<name>``) serving its
# launch ABI. A release maps to a backend name even before that module exists: the loader then
# reports "no backend yet" and everything goes through Triton's own path.
RELEASES = {
    "2.1.0": "v2_1",  # exec'd per-instance run; c_wrapper(gx,gy,gz,nw,shared,stream,fn,...)
    "2.2.0": "v2_2",  # Signature.bind; device=/stream= kwargs; num_ctas + cluster dims
    "2.3.0": "v2_3",  # no device=/stream=; CUDAOptions dataclass in the key
    "2.3.1": "v2_3",
    "3.0.0": "v3_0",  # exec'd binder, string key in fn.cache[dev], non-constexpr launcher args
    "3.1.0": "v3_0",
    "3.2.0": "v3_0",
    "3.3.0": "v3_3",  # device_caches, all params to the launcher, specialize_impl
    "3.3.1": "v3_3",
    "3.4.0": "v3_3",  # knobs
    "3.5.0": "v3_3",  # HookChain, 5-tuple device_caches
    "3.5.1": "v3_3",
    "3.6.0": "v3_3",  # native (C++) specialization
    "3.7.0": "v3_3",  # shared variadic launcher
    "3.7.1": "v3_3",
    "3.8.0": "v3_3",  # CompiledKernel.__del__ unloads the module
    "3.9.0": "v3_3",
}

# Backend modules that exist in this version of tritoncompat. A release whose backend is not in
# here is detected and reported, but launches go through Triton's own path.
BACKENDS = ("v2_1", "v2_2", "v2_3", "v3_0", "v3_3")


class Detected(NamedTuple):
    """What :func:`detect` found: the Triton version string (``None`` if Triton is missing),
    the release it was matched to, and the backend name (``None`` if unsupported)."""

    version: Optional[str]
    release: Optional[str]
    backend: Optional[str]


def backend_for(version: str) -> Detected:
    """Map a Triton version string to its backend.

    Local build labels of a listed release (``3.3.1+gitc8757738``, as PyTorch's
    ``pytorch-triton`` wheels carry) match that release; pre-releases, dev builds and unknown
    releases do not.

    >>> backend_for("3.6.0").backend
    'v3_3'
    >>> backend_for("4.0.0").backend is None
    True
    """
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        return Detected(version, None, None)
    if parsed.is_prerelease or parsed.is_devrelease or parsed.is_postrelease:
        return Detected(version, None, None)
    release = ".".join(str(p) for p in (tuple(parsed.release) + (0, 0))[:3])
    return Detected(version, release if release in RELEASES else None, RELEASES.get(release))


def detect() -> Detected:
    """Import Triton and report its version and the backend that serves it."""
    try:
        import triton
    except ImportError:
        return Detected(None, None, None)
    return backend_for(str(triton.__version__))
