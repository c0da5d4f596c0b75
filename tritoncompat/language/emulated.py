"""Block pointers emulated in Triton language (pointer arithmetic and masks; Triton 3.3+), what
``tritoncompat.language`` uses on 3.9+ and, with ``TRITONCOMPAT_BLOCK_PTR=emulated``, anywhere.

    import tritoncompat.language.emulated as tcl  # a kernel that must use the emulation

The four functions are ``@triton.jit`` helpers over the builtins of ``_block_ptr``: Triton leaves
builtins out of a kernel's cache key, but hashes the source of the helpers a kernel calls. The
helpers' source carries a digest of ``_block_ptr.py``, so a kernel compiled with the emulation
never shares a cache entry with the same kernel compiled natively, nor with an older emulation.
They are generated, under a file name registered in ``linecache`` (Triton reads a helper's source).
"""
import hashlib
import os

import triton
import triton.language as tl

from . import _block_ptr
from ._source import define

_DIGEST = hashlib.sha256(open(os.path.join(os.path.dirname(__file__), "_block_ptr.py"), "rb").read()).hexdigest()

_LINES = [
    "@triton.jit",
    "def make_block_ptr(base, shape, strides, offsets, block_shape, order):",
    "    return _impl.emulated_make_block_ptr(base, shape, strides, offsets, block_shape, order)  # {tag}",
    "",
    "@triton.jit",
    "def advance(base, offsets):",
    "    return _impl.emulated_advance(base, offsets)  # {tag}",
    "",
    "@triton.jit",
    "def load(pointer, mask=_NONE, other=_NONE, boundary_check: tl.constexpr = _NO_DIMS,",
    "         padding_option: tl.constexpr = _EMPTY, cache_modifier: tl.constexpr = _EMPTY,",
    "         eviction_policy: tl.constexpr = _EMPTY, volatile: tl.constexpr = _FALSE):",
    "    return _impl.emulated_load(pointer, mask, other, boundary_check, padding_option, cache_modifier,",
    "                      eviction_policy, volatile)  # {tag}",
    "",
    "@triton.jit",
    "def store(pointer, value, mask=_NONE, boundary_check: tl.constexpr = _NO_DIMS,",
    "          cache_modifier: tl.constexpr = _EMPTY, eviction_policy: tl.constexpr = _EMPTY):",
    "    _impl.emulated_store(pointer, value, mask, boundary_check, cache_modifier, eviction_policy)  # {tag}",
]


def _generate():
    tag = f"tritoncompat emulated block pointers {_DIGEST[:16]}"
    source = "\n".join(_LINES).format(tag=tag) + "\n"
    # Defaults are constexprs, and annotated so: 3.3 - 3.6 bind a helper's defaults as they are (a
    # str, a tuple or None is not a Triton value there), 3.9 assigns an unannotated default as a
    # variable (a str cannot become a tensor).
    namespace = {"triton": triton, "tl": tl, "_impl": _block_ptr, "_NONE": tl.constexpr(None),
                 "_NO_DIMS": tl.constexpr(()), "_EMPTY": tl.constexpr(""), "_FALSE": tl.constexpr(False)}
    return define(source, f"<tritoncompat.language.emulated {_DIGEST[:16]}>", namespace)


# Before 3.3 there is no emulation (no tl.tuple): the builtins say so when a kernel compiles (2.1's
# @triton.jit cannot even take the helpers' constexpr defaults).
_namespace = _generate() if _block_ptr.HAS_EMULATION else {
    name: getattr(_block_ptr, f"emulated_{name}") for name in ("make_block_ptr", "advance", "load", "store")}
make_block_ptr = _namespace["make_block_ptr"]
advance = _namespace["advance"]
load = _namespace["load"]
store = _namespace["store"]

__all__ = ["make_block_ptr", "advance", "load", "store"]
