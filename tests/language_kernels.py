"""Block-pointer kernels written once against a namespace ``B`` that the loader injects:
``triton.language`` (Triton's own block pointers), ``tritoncompat.language.native`` or
``tritoncompat.language.emulated``. ``load_kernels(B)`` execs this file into a fresh module with
``B`` already bound, so each namespace gets its own JITFunctions from the same source (Triton reads
kernel source from the file). Used by tests/test_language_block_ptr.py and language_interp.py.
"""
import importlib.util
import itertools
import os
import sys

import triton
import triton.language as tl

_count = itertools.count()


def load_file(namespace, path):
    """Exec the kernel file ``path`` into a fresh module with ``B`` bound to ``namespace``."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"{name}_{next(_count)}", path)
    module = importlib.util.module_from_spec(spec)
    module.B = namespace
    sys.modules[spec.name] = module    # 2.1 looks a called helper's module up there
    spec.loader.exec_module(module)
    return module


def load_kernels(namespace):
    return load_file(namespace, __file__)


if "B" in globals():

    # -- the property-tested kernels: boundary_check / padding_option are constexprs; the block
    # pointer is made STEPS advances before its target offsets and advanced in a loop.

    @triton.jit
    def load1(x, out, S0, T0, O0, D0, BC: tl.constexpr, PAD: tl.constexpr, STEPS: tl.constexpr,
              B0: tl.constexpr):
        p = B.make_block_ptr(x, (S0,), (T0,), (O0 - STEPS * D0,), (B0,), (0,))
        for _ in range(STEPS):
            p = B.advance(p, (D0,))
        v = B.load(p, boundary_check=BC, padding_option=PAD)
        tl.store(out + tl.arange(0, B0), v)

    @triton.jit
    def load2(x, out, S0, S1, T0, T1, O0, O1, D0, D1, BC: tl.constexpr, PAD: tl.constexpr, STEPS: tl.constexpr,
              B0: tl.constexpr, B1: tl.constexpr):
        p = B.make_block_ptr(x, (S0, S1), (T0, T1), (O0 - STEPS * D0, O1 - STEPS * D1), (B0, B1), (1, 0))
        for _ in range(STEPS):
            p = B.advance(p, (D0, D1))
        v = B.load(p, boundary_check=BC, padding_option=PAD)
        tl.store(out + tl.arange(0, B0)[:, None] * B1 + tl.arange(0, B1)[None, :], v)

    @triton.jit
    def load3(x, out, S0, S1, S2, T0, T1, T2, O0, O1, O2, D0, D1, D2, BC: tl.constexpr, PAD: tl.constexpr,
              STEPS: tl.constexpr, B0: tl.constexpr, B1: tl.constexpr, B2: tl.constexpr):
        p = B.make_block_ptr(x, (S0, S1, S2), (T0, T1, T2), (O0 - STEPS * D0, O1 - STEPS * D1, O2 - STEPS * D2),
                             (B0, B1, B2), (2, 1, 0))
        for _ in range(STEPS):
            p = B.advance(p, (D0, D1, D2))
        v = B.load(p, boundary_check=BC, padding_option=PAD)
        i = tl.arange(0, B0)[:, None, None] * (B1 * B2) + tl.arange(0, B1)[None, :, None] * B2 \
            + tl.arange(0, B2)[None, None, :]
        tl.store(out + i, v)

    @triton.jit
    def store1(y, src, S0, T0, O0, BC: tl.constexpr, B0: tl.constexpr):
        p = B.make_block_ptr(y, (S0,), (T0,), (O0,), (B0,), (0,))
        B.store(p, tl.load(src + tl.arange(0, B0)), boundary_check=BC)

    @triton.jit
    def store2(y, src, S0, S1, T0, T1, O0, O1, BC: tl.constexpr, B0: tl.constexpr, B1: tl.constexpr):
        p = B.make_block_ptr(y, (S0, S1), (T0, T1), (O0, O1), (B0, B1), (0, 1))
        B.store(p, tl.load(src + tl.arange(0, B0)[:, None] * B1 + tl.arange(0, B1)[None, :]), boundary_check=BC)

    @triton.jit
    def store3(y, src, S0, S1, S2, T0, T1, T2, O0, O1, O2, BC: tl.constexpr, B0: tl.constexpr, B1: tl.constexpr,
               B2: tl.constexpr):
        p = B.make_block_ptr(y, (S0, S1, S2), (T0, T1, T2), (O0, O1, O2), (B0, B1, B2), (2, 1, 0))
        i = tl.arange(0, B0)[:, None, None] * (B1 * B2) + tl.arange(0, B1)[None, :, None] * B2 \
            + tl.arange(0, B2)[None, None, :]
        B.store(p, tl.load(src + i), boundary_check=BC)

    # -- the compiled kernels: boundary checks and paddings written out (2.x canonicalizes a
    # boundary_check constexpr as one dimension)

    @triton.jit
    def tiles(x, y, S0, S1, T0, T1, U0, U1, O0, O1, BM: tl.constexpr, BN: tl.constexpr):
        p = B.make_block_ptr(x, (S0, S1), (T0, T1), (O0, O1), (BM, BN), (1, 0))
        q = B.make_block_ptr(y, (S0, S1), (U0, U1), (O0, O1), (BM, BN), (1, 0))
        for _ in range(2):
            B.store(q, B.load(p, boundary_check=(0, 1), padding_option="zero", cache_modifier=".cg") * 2,
                    boundary_check=(1,))
            p = B.advance(p, (0, BN))
            q = B.advance(q, (0, BN))

    @triton.jit
    def cube(x, out, S0, S1, S2, T0, T1, T2, B0: tl.constexpr, B1: tl.constexpr, B2: tl.constexpr):
        p = B.make_block_ptr(x, (S0, S1, S2), (T0, T1, T2), (1, 0, -3), (B0, B1, B2), (2, 1, 0))
        v = B.load(p, boundary_check=(2,), padding_option="nan", eviction_policy="evict_last")
        tl.store(out + tl.arange(0, B1)[:, None] * B2 + tl.arange(0, B2)[None, :], tl.sum(v, axis=0))

    @triton.jit
    def row(y, src, S0, O0, B0: tl.constexpr):
        p = B.make_block_ptr(y, (S0,), (1,), (O0,), (B0,), (0,))
        B.store(p, tl.load(src + tl.arange(0, B0)), boundary_check=(0,), cache_modifier=".wb")

    # -- a helper that takes and returns a block pointer, and a K loop that carries two of them

    @triton.jit
    def _step(p, BK: tl.constexpr):
        return B.advance(p, (0, BK))

    @triton.jit
    def _dot_tile(a, b):
        return tl.dot(B.load(a, boundary_check=(0, 1), padding_option="zero"),
                      B.load(b, boundary_check=(0, 1), padding_option="zero"))

    @triton.jit
    def matmul(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn, BM: tl.constexpr, BN: tl.constexpr,
               BK: tl.constexpr, NK: tl.constexpr):
        pm = tl.program_id(0)
        pn = tl.program_id(1)
        a = B.make_block_ptr(a_ptr, (M, K), (sam, sak), (pm * BM, 0), (BM, BK), (1, 0))
        b = B.make_block_ptr(b_ptr, (K, N), (sbk, sbn), (0, pn * BN), (BK, BN), (0, 1))
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for _ in range(NK):
            acc += _dot_tile(a, b)
            a = _step(a, BK)
            b = B.advance(b, (BK, 0))
        c = B.make_block_ptr(c_ptr, (M, N), (scm, scn), (pm * BM, pn * BN), (BM, BN), (1, 0))
        B.store(c, acc, boundary_check=(0, 1))

    # -- ordinary pointers: tcl.load / tcl.store are tl.load / tl.store

    @triton.jit
    def plain(x, y, n, BLOCK: tl.constexpr):
        i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        B.store(y + i, B.load(x + i, mask=i < n, other=0.0) * 2, mask=i < n)
