"""Triton's libdevice math on every release and target: ``tcl.libdevice.<name>(...)`` inside
``@triton.jit`` kernels (``import tritoncompat.language as tcl``).

Where the functions live moved: 2.1 - 2.3 keep them in ``triton.language.math``; 3.0+ in
``triton.language.extra.libdevice``, which picks the target's module when the kernel compiles
(``extra.cuda.libdevice`` or ``extra.hip.libdevice``: 3.0 - 3.1 by a dispatch wrapper, 3.2+
through the backend's module map). Each name resolves, when the kernel is compiled, to:

* the release's own function: ``tl.math.<name>`` on 2.x, the dispatch wrapper on 3.0 - 3.1, and
  on 3.2+ a one-line ``@triton.jit`` function that calls ``triton.language.extra.libdevice.<name>``
  (the module map only applies to a module held by a kernel's globals, not to one reached through
  ``tcl``); inlined, it compiles to the same extern call;
* a Triton-language implementation (``_libdevice_impl``) where the release has no such function
  (``max`` / ``min`` on 3.0+) and under ``TRITON_INTERPRET=1``, whose interpreter runs no
  libdevice on any release;
* otherwise an error when the kernel compiles, naming the function and the release.

``NAMES``: every function of Triton's CUDA libdevice in any release 2.1.0 - 3.9.0 and of its HIP
one (generated from the releases' own modules by ``.ci/libdevice-names``). A name in none of them
is an ``AttributeError``.
"""
import inspect

import triton
import triton.language as tl

from . import _libdevice_impl
from ._missing import missing
from ._source import define
from ._libdevice_names import CUDA, HIP

try:    # 3.0+
    from triton.language.extra import libdevice as _generic
except ImportError:     # 2.1 - 2.3: libdevice is tl.math
    _generic = None

NAMES = frozenset(CUDA).union(*HIP.values())
IMPLEMENTED = frozenset(_libdevice_impl.IMPLEMENTED)
_RELEASE = triton.__version__
# 3.2+: the generic module is a table of stubs that the backend's module map replaces
_MAPPED = _generic is not None and not hasattr(_generic, "dispatch")
_RESOLVED = {}


def _interpreting():
    """Whether ``@triton.jit`` makes interpreter functions now (``TRITON_INTERPRET``, read by
    Triton when it decorates; 2.1's ``interpret=True`` is per kernel and not seen here)."""
    return type(triton.jit(_probe)).__name__ == "InterpretedFunction"


def _probe(x):
    return x


def _native(name):
    """The release's own function for ``name`` (any target), or None."""
    if _generic is None:
        return getattr(tl.math, name, None) if name in CUDA else None
    function = getattr(_generic, name, None)
    if function is None or not _MAPPED:
        return function
    arity = CUDA[name][0] if name in CUDA else len(
        [p for p in inspect.signature(function).parameters if not p.startswith("_")])
    args = ", ".join(f"arg{i}" for i in range(arity))
    source = f"def {name}({args}):\n    return _libdevice.{name}({args})\n"
    namespace = define(source, f"<tritoncompat libdevice.{name} triton-{_RELEASE}>",
                       {"_libdevice": _generic, "__name__": __name__})
    return triton.jit(namespace[name])


def _missing(name, why, interpreting):
    arity = CUDA[name][0] if name in CUDA else 1
    return missing(name, ", ".join(f"arg{i}" for i in range(arity)),
                   f"tritoncompat.language.libdevice.{name}: {why}", __name__, interpreting)


def _resolve(name, interpreting):
    if interpreting:
        if name in IMPLEMENTED:
            return triton.jit(getattr(_libdevice_impl, name))
        return _missing(name, f"Triton {_RELEASE}'s interpreter (TRITON_INTERPRET=1) runs no libdevice, and "
                              f"tritoncompat implements only {', '.join(sorted(IMPLEMENTED))} in Triton language",
                        True)
    native = _native(name)
    if native is not None:
        return native
    if name in IMPLEMENTED:
        return triton.jit(getattr(_libdevice_impl, name))
    have = CUDA[name][1] if name in CUDA else sorted(HIP)
    return _missing(name, f"Triton {_RELEASE} has no libdevice function {name!r} (it is in Triton "
                          f"{', '.join(have)}) and tritoncompat has no Triton-language implementation of it", False)


def __getattr__(name):
    if name not in NAMES:
        raise AttributeError(f"tritoncompat.language.libdevice has no function {name!r}: no Triton release "
                             "2.1.0 - 3.9.0 has it in its CUDA or HIP libdevice")
    key = (name, _interpreting())
    function = _RESOLVED.get(key)
    if function is None:
        function = _RESOLVED[key] = _resolve(name, key[1])
    return function


def __dir__():
    return sorted(set(globals()) | NAMES)
