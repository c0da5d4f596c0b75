"""Triton language that works on every release 2.1.0 - 3.9.0, used inside ``@triton.jit`` kernels.

    import tritoncompat.language as tcl

    p = tcl.make_block_ptr(x_ptr, (M, N), (stride_m, 1), (pid * BM, 0), (BM, BN), (1, 0))
    for k in range(0, N, BN):
        acc += tcl.load(p, boundary_check=(0, 1), padding_option="zero")
        p = tcl.advance(p, (0, BN))
    y = tcl.libdevice.tanh(x)                  # the target's libdevice on every release
    desc = tcl.make_tensor_descriptor(x_ptr, (M, N), (N, 1), (BM, BN))     # 3.3+
    y = tcl.gather(x, idx, 0)                                                # 3.3+

Block pointers are Triton's own where the release has them (2.1 - 3.8) and emulated in Triton
language (pointer arithmetic and masks) on 3.9+, which removed them. ``TRITONCOMPAT_BLOCK_PTR`` =
``emulated`` (Triton 3.3+) or ``native`` chooses, read once at import (``MODE`` is the module
chosen); ``tritoncompat.language.native`` and ``.emulated`` are the two, for a kernel that wants
one. On ordinary pointers ``tcl.load`` and ``tcl.store`` are ``tl.load`` and ``tl.store``.
``tcl.libdevice`` resolves each libdevice function per release and target (see there);
``make_tensor_descriptor`` and ``gather`` are Triton's where the release has them, and where it
does not, a kernel that calls them fails to compile naming the release (``tritoncompat.has(...)``
gates such kernels). This package imports Triton, never the launch machinery.
"""
import os

from . import _descriptor, emulated, libdevice, native
from ._block_ptr import choose_block_pointers

MODE = choose_block_pointers(os.environ.get("TRITONCOMPAT_BLOCK_PTR"), native, emulated)

make_block_ptr = MODE.make_block_ptr
advance = MODE.advance
load = MODE.load
store = MODE.store


def __getattr__(name):
    # make_tensor_descriptor, gather: looked up in triton.language on every access, because the
    # interpreter replaces tl's builtins with its own while a kernel runs
    resolve = _descriptor.RESOLVERS.get(name)
    if resolve is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return resolve()


__all__ = ["make_block_ptr", "advance", "load", "store", "native", "emulated", "MODE", "libdevice",
           "make_tensor_descriptor", "gather"]
