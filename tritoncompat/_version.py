"""Which backend serves the installed Triton: one literal table, the only reader of
``triton.__version__``; :func:`triton_version`, the installed release as a comparable version."""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple, Optional, Tuple

__all__ = ["BACKENDS", "RELEASES", "Detected", "TritonVersion", "detect", "backend_for", "parse",
           "release_key", "triton_version", "distribution"]

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
    """Import Triton and report its version, the release it matches and the backend that serves
    it: the table's, or the one ``TRITONCOMPAT_BACKEND`` forces (the canary's build of Triton's
    main, an unknown release, is served by ``v3_3`` so)."""
    try:
        import triton
    except ImportError:
        return Detected(None, None, None)
    found = backend_for(str(triton.__version__))
    forced = (os.environ.get("TRITONCOMPAT_BACKEND") or "").strip()  # the same read as _config's
    return found._replace(backend=forced) if forced in BACKENDS else found  # a bad value: _select warns


_RELEASE = re.compile(r"\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class TritonVersion(tuple):
    """A Triton version as ``(major, minor, micro)`` ints that compares numerically with tuples
    and version strings: ``triton_version() >= (3, 10)``, ``>= "3.10"``, ``== "3.10.0"``.
    Missing parts count as 0 (``(3, 10) == (3, 10, 0)``).

    Only the release number takes part in comparisons (and hashing, as a tuple): a pre-release,
    dev, post or local build of 3.10.0 compares equal to ``(3, 10, 0)``, since code gating on a
    feature wants the release it was built from. What else the string carried is kept:
    ``string`` (``triton.__version__`` as found), ``pre`` / ``dev`` / ``post`` (packaging's
    parts or None), ``local`` (``"gitc8757738"`` or None), ``exact`` (True for a plain release
    number such as ``3.9.0``).

    >>> v = parse("3.10.0rc1")
    >>> v >= (3, 10), v > "3.9.1", v < "4", v.pre
    (True, True, True, ('rc', 1))
    >>> "3.10.0" >= "3.4"       # why: strings compare letter by letter
    False
    >>> parse("3.10.0") >= "3.4"
    True
    """

    string: str
    pre: Optional[Tuple[str, int]]
    dev: Optional[int]
    post: Optional[int]
    local: Optional[str]

    def __new__(cls, string: str) -> "TritonVersion":
        from packaging.version import InvalidVersion, Version

        m = _RELEASE.match(string)
        if m is None:
            raise ValueError(f"not a Triton version: {string!r} (expected major.minor[.micro], e.g. '3.10.0')")
        self = super().__new__(cls, tuple(int(g or 0) for g in m.groups()))
        self.string = string
        try:
            parsed = Version(string)
        except InvalidVersion:  # "3.10.0-custom": the release number is all that can be read
            self.pre, self.dev, self.post, self.local = None, None, None, string[m.end():] or None
        else:
            self.pre, self.dev, self.post, self.local = parsed.pre, parsed.dev, parsed.post, parsed.local
        return self

    @property
    def major(self) -> int:
        return self[0]

    @property
    def minor(self) -> int:
        return self[1]

    @property
    def micro(self) -> int:
        return self[2]

    @property
    def exact(self) -> bool:
        return (self.pre, self.dev, self.post, self.local) == (None, None, None, None)

    @staticmethod
    def _other(other: Any) -> Optional[Tuple[int, ...]]:
        if isinstance(other, TritonVersion):
            return tuple(other)
        if isinstance(other, str):
            try:
                return tuple(TritonVersion(other))
            except ValueError:
                return None
        if isinstance(other, tuple) and 0 < len(other) <= 3 and all(type(p) is int for p in other):
            return tuple(other) + (0,) * (3 - len(other))
        return None

    def _cmp(self, other: Any, op: Any) -> Any:
        theirs = self._other(other)
        if theirs is None:
            return NotImplemented
        return op(tuple(self), theirs)

    def __eq__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__eq__)

    def __ne__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__ne__)

    def __lt__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__lt__)

    def __le__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__le__)

    def __gt__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__gt__)

    def __ge__(self, other: Any) -> Any:
        return self._cmp(other, tuple.__ge__)

    __hash__ = tuple.__hash__

    def __str__(self) -> str:
        return self.string

    def __repr__(self) -> str:
        return f"TritonVersion({self.string!r})"

    def __reduce__(self) -> Any:
        return (TritonVersion, (self.string,))


def parse(string: str) -> TritonVersion:
    """A version string as a :class:`TritonVersion`.

    :raises ValueError: the string does not start with a release number.
    """
    return TritonVersion(str(string))


def release_key(release: str) -> Tuple[int, ...]:
    """Sort key of a release string: numeric, so ``3.10.0`` sorts after ``3.9.0``.

    >>> sorted(["3.10.0", "3.9.0", "4.0.0", "3.1.0"], key=release_key)
    ['3.1.0', '3.9.0', '3.10.0', '4.0.0']
    """
    return tuple(parse(release))


def triton_version() -> Optional[TritonVersion]:
    """The installed Triton's version (``triton.__version__``) as a :class:`TritonVersion`; None
    when Triton is not installed or its version does not start with a release number. Imports
    Triton. Kernel packages: compare this, never ``triton.__version__`` (``"3.10.0" >= "3.4"``
    is False).

    >>> import tritoncompat
    >>> if tritoncompat.triton_version() >= (3, 10):  # doctest: +SKIP
    ...     pass
    """
    try:
        import triton
    except ImportError:
        return None
    return _parsed(str(triton.__version__))


def distribution() -> Optional[Tuple[str, str]]:
    """(name, version) of the installed distribution that provides the ``triton`` module:
    ``("triton", "3.9.0")``, ``("pytorch-triton", "3.3.1+gitc8757738")``, or a vendor build
    loaded as ``triton`` (``("tokenspeed-triton", "3.9.10.post20261028")``, whose
    ``__version__`` says ``3.9.10``); None without Triton or when no distribution claims it."""
    from importlib import metadata

    try:
        import triton
    except ImportError:
        return None
    top = triton.__name__.split(".")[0]
    names = [top, top.replace("_", "-")]
    try:
        names += metadata.packages_distributions().get(top, [])
    except Exception:  # a broken installed distribution elsewhere: report what is certain
        pass
    for name in names:
        try:
            return metadata.metadata(name)["Name"], metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


_last: Optional[TritonVersion] = None


def _parsed(string: str) -> Optional[TritonVersion]:
    global _last
    if _last is None or _last.string != string:
        try:
            _last = parse(string)
        except ValueError:
            return None
    return _last
