"""Triton language that works on every release 2.1.0 - 3.9.0, used inside ``@triton.jit`` kernels.

    import tritoncompat.language as tcl

    p = tcl.make_block_ptr(x_ptr, (M, N), (stride_m, 1), (pid * BM, 0), (BM, BN), (1, 0))
    for k in range(0, N, BN):
        acc += tcl.load(p, boundary_check=(0, 1), padding_option="zero")
        p = tcl.advance(p, (0, BN))

Block pointers are Triton's own where the release has them (2.1 - 3.8) and emulated in Triton
language (pointer arithmetic and masks) on 3.9+, which removed them. ``TRITONCOMPAT_BLOCK_PTR`` =
``emulated`` (Triton 3.3+) or ``native`` chooses, read once at import (``MODE`` is the module
chosen); ``tritoncompat.language.native`` and ``.emulated`` are the two, for a kernel that wants
one. On ordinary pointers ``tcl.load`` and ``tcl.store`` are ``tl.load`` and ``tl.store``. This
package imports Triton, never the launch machinery.
"""
import os

from . import emulated, native
from ._block_ptr import choose_block_pointers

MODE = choose_block_pointers(os.environ.get("TRITONCOMPAT_BLOCK_PTR"), native, emulated)

make_block_ptr = MODE.make_block_ptr
advance = MODE.advance
load = MODE.load
store = MODE.store

__all__ = ["make_block_ptr", "advance", "load", "store", "native", "emulated", "MODE"]
