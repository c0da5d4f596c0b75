"""Run under TRITON_INTERPRET=1 in a fresh interpreter (tests/test_language_block_ptr.py starts it):
property-tested block-pointer loads and stores through every namespace the release has (Triton's own
``tl``, ``tritoncompat.language.native``, ``.emulated``), each checked against a torch reference.
Prints one line ``ok <cases> <namespaces>``; any mismatch raises.

    TRITON_INTERPRET=1 python tests/language_interp.py [max_examples]
"""
import os
import sys
import types

assert os.environ.get("TRITON_INTERPRET") == "1", "run with TRITON_INTERPRET=1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import triton.language as tl  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

import tritoncompat.language as tcl  # noqa: E402
from tritoncompat.language import _block_ptr  # noqa: E402
from tritoncompat.testing.fake import INTERPRETER_PRELUDE  # noqa: E402

exec(INTERPRETER_PRELUDE, {})   # 2.2: the interpreter's builder needs a target attribute
from language_kernels import load_kernels  # noqa: E402


def _tl_by_name():
    # triton.language under another module object: 2.2 - 3.0 interpreters require exactly one
    # global of a kernel to be triton.language, and read tl's functions when they run (patched).
    module = types.ModuleType("tl_block_pointers")
    def __getattr__(name):
        if name not in ("make_block_ptr", "advance", "load", "store"):
            raise AttributeError(name)
        return getattr(tl, name)

    module.__getattr__ = __getattr__
    return module


NAMESPACES = {}
if _block_ptr.HAS_NATIVE:
    NAMESPACES["tl"] = _tl_by_name()
    NAMESPACES["native"] = tcl.native
if _block_ptr.HAS_EMULATION:
    NAMESPACES["emulated"] = tcl.emulated
KERNELS = {name: load_kernels(ns) for name, ns in NAMESPACES.items()}
SENTINEL = -7.0
TL_PADS_ONLY_CHECKED = _block_ptr.RELEASE == (3, 8)
# Triton's interpreter and its own block pointers, before 3.3 (the only block pointers there):
# 3.0 - 3.2 mask only `offset < shape`, not `offset >= 0` (BlockPointerHandle.materialize_pointers),
# so a negative offset reads and writes outside the tensor; 2.2 - 2.3 assert padding_option is None
# (create_tensor_pointer_load). Those releases draw offsets >= 0 and, 2.x, no padding.
NEGATIVE_OFFSETS = _block_ptr.RELEASE >= (3, 3)
PADDINGS = ["", "zero", "nan"] if _block_ptr.RELEASE >= (3, 0) else [""]
# 2.2 - 2.3's interpreter fails on tl.arange(0, 1)[:, None] * n (a numpy array where it wants a
# tensor), which the test kernels' output indexing does for a block dimension of 1.
BLOCKS = [1, 2, 4, 8] if _block_ptr.RELEASE >= (3, 0) else [2, 4, 8]


@st.composite
def cases(draw):
    rank = draw(st.integers(1, 3))
    block = [draw(st.sampled_from(BLOCKS)) for _ in range(rank)]
    checked = [draw(st.booleans()) for _ in range(rank)]
    shape = []
    for d in range(rank):
        # an unchecked dimension is trusted: the block must fit
        shape.append(draw(st.integers(1 if checked[d] else block[d], 12)))
    offsets = []
    for d in range(rank):
        if checked[d]:
            low = -block[d] - 2 if NEGATIVE_OFFSETS else 0
            offsets.append(draw(st.integers(low, shape[d] + 2)))   # negative, past the end
        else:
            offsets.append(draw(st.integers(0, shape[d] - block[d])))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    return dict(rank=rank, block=block, checked=checked, shape=shape, offsets=offsets, layout=layout,
                padding=draw(st.sampled_from(PADDINGS)), steps=draw(st.integers(0, 2)),
                deltas=[draw(st.integers(-3 if NEGATIVE_OFFSETS else 0, 3)) for _ in range(rank)], dtype=draw(st.sampled_from(["f32", "i32"])))


def parent(case):
    shape = case["shape"]
    dtype = torch.float32 if case["dtype"] == "f32" else torch.int32
    n = 1
    for s in shape:
        n *= s
    if case["layout"] == "contiguous":
        x = torch.arange(n).reshape(shape)
    elif case["layout"] == "transposed":      # strides in reverse order
        x = torch.arange(n).reshape(shape[::-1]).permute(*reversed(range(len(shape))))
    else:                                       # every other element of a larger tensor
        big = torch.arange(n * 2 ** len(shape)).reshape([2 * s for s in shape])
        x = big[tuple(slice(None, None, 2) for _ in shape)]
    return (x * 3 + 1).to(dtype)


def window(case):
    """index tensors of the block and the in-bounds mask (over checked and unchecked dimensions)"""
    idx = torch.meshgrid(*[torch.arange(b) + o for b, o in zip(case["block"], case["offsets"])], indexing="ij")
    valid = torch.ones(case["block"], dtype=torch.bool)
    for d, i in enumerate(idx):
        valid &= (i >= 0) & (i < case["shape"][d])
    return idx, valid


def expected_load(case, x):
    idx, valid = window(case)
    safe = [i.clamp(0, s - 1) for i, s in zip(idx, case["shape"])]
    ref = x[tuple(safe)].clone()
    if case["padding"] == "zero":
        ref[~valid] = 0
    elif case["padding"] == "nan":
        ref[~valid] = float("nan")
    return ref, valid


def bc(case):
    return tuple(d for d, c in enumerate(case["checked"]) if c)


def run_load(kernels, case, x):
    r, out = case["rank"], torch.full(case["block"], SENTINEL).to(x.dtype)
    args = [x, out, *case["shape"], *x.stride(), *case["offsets"], *case["deltas"]]
    kern = (kernels.load1, kernels.load2, kernels.load3)[r - 1]
    kern[(1,)](*args, BC=bc(case), PAD=case["padding"], STEPS=case["steps"],
               **{f"B{d}": b for d, b in enumerate(case["block"])})
    return out


def run_store(kernels, case, x):
    y = x.clone()
    n = 1
    for b in case["block"]:
        n *= b
    src = (torch.arange(n) * 5 - 11).to(x.dtype).reshape(case["block"])
    kern = (kernels.store1, kernels.store2, kernels.store3)[case["rank"] - 1]
    kern[(1,)](y, src, *case["shape"], *y.stride(), *case["offsets"], BC=bc(case),
               **{f"B{d}": b for d, b in enumerate(case["block"])})
    idx, valid = window(case)
    ref = x.clone()
    ref[tuple(i[valid] for i in idx)] = src[valid]
    return y, ref


def same(a, b, where=None):
    if where is not None:
        a, b = a[where], b[where]
    return torch.equal(torch.nan_to_num(a.float(), nan=1234.5), torch.nan_to_num(b.float(), nan=1234.5)) and \
        torch.equal(a.float().isnan(), b.float().isnan())


SEEN = []
_MATH_FILE = getattr(tl.math, "__file__", None)


def _unpatch_math_file():
    # 2.2 - 2.3's interpreter replaces every attribute of tl.math with a fallback function,
    # __file__ too, and hypothesis reads the __file__ of every module.
    if _MATH_FILE is not None:
        tl.math.__file__ = _MATH_FILE


def check(case):
    try:
        _check(case)
    finally:
        _unpatch_math_file()


def _check(case):
    if case["padding"] == "nan" and case["dtype"] == "i32":
        case["padding"] = "zero"           # nan padding of an integer block is an error (tested elsewhere)
    x = parent(case)
    ref, valid = expected_load(case, x)
    # padding "": out-of-bounds elements are undefined; compare in-bounds ones only
    where = valid if case["padding"] == "" else None
    for name, kernels in KERNELS.items():
        if name == "tl" and TL_PADS_ONLY_CHECKED and case["padding"] and not any(case["checked"]):
            continue   # Triton 3.8.0's own load raises here ("`other` cannot be provided without `mask`")
        got = run_load(kernels, case, x)
        assert same(got, ref, where), (name, "load", case, got, ref)
        if case["steps"] == 0:
            y, yref = run_store(kernels, case, x)
            assert same(y, yref), (name, "store", case, y, yref)
    SEEN.append(case)


def check_matmul_and_plain():
    M, N, K = 37, 20, 45
    a, b = torch.randn(M, K), torch.randn(N, K).t()    # b transposed: non-contiguous
    for name, kernels in KERNELS.items():
        c = torch.zeros(M, N)
        kernels.matmul[(3, 2)](a, b, c, M, N, K, *a.stride(), *b.stride(), *c.stride(), BM=16, BN=16, BK=16, NK=3)
        torch.testing.assert_close(c, a @ b, rtol=1e-4, atol=1e-4, msg=name)
        x, y = torch.randn(100), torch.zeros(100)
        kernels.plain[(4,)](x, y, 100, BLOCK=32)
        assert torch.equal(y, x * 2), name


# The corpus (language_corpus.py) loops `for k in range(0, K, BK)` with a runtime K, which 3.3 -
# 3.7's interpreters cannot run under NumPy 2 (int() of a 1-element array): 3.8+ only.
CORPUS = _block_ptr.RELEASE >= (3, 8)


def check_corpus():
    """Every corpus kernel equals its torch reference and is bit-equal across the namespaces."""
    import language_corpus

    results = {name: language_corpus.run_all(language_corpus.load(ns), language_corpus.torch_kernels(ns))
               for name, ns in NAMESPACES.items()}
    first = next(iter(results))
    for name, outs in results.items():
        for kernel, (got, ref) in outs.items():
            torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4, msg=lambda m: f"{name} {kernel}: {m}")
            assert torch.equal(got, results[first][kernel][0]), f"{name} {kernel} differs from {first}"
    return sorted(results[first])


if __name__ == "__main__":
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    given(cases())(settings(max_examples=examples, deadline=None, derandomize=True, database=None)(check))()
    check_matmul_and_plain()
    print("ok", len(SEEN), " ".join(NAMESPACES))
    if CORPUS:
        print("corpus", " ".join(check_corpus()))
