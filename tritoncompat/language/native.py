"""Triton's own block pointers (``tl.make_block_ptr``, 2.1 - 3.8) behind tritoncompat's argument
checks: the compiled kernel is the one ``tl.make_block_ptr`` gives.

    import tritoncompat.language.native as tcl   # a kernel that must use Triton's own
"""
from ._block_ptr import Native

make_block_ptr = Native.make_block_ptr
advance = Native.advance
load = Native.load
store = Native.store

__all__ = ["make_block_ptr", "advance", "load", "store"]
