"""tritoncompat.language's block pointers (README, "Block pointers on Triton 3.9+").

- numerics: tests/language_interp.py in a fresh interpreter under TRITON_INTERPRET=1, a
  property test of loads and stores (ranks 1-3, strides, offsets, boundary checks, paddings,
  advances in a loop) through Triton's own block pointers, tcl.native and tcl.emulated, each
  against a torch reference;
- compiled: the same kernels compile for sm_90 and sm_80 under the fake driver; tcl.native gives
  the binary tl.make_block_ptr gives; the emulation never shares a cache entry with it;
- bad input: a compile-time error naming the argument, in every mode the release has.
"""
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import triton.language as tl

import tritoncompat.language as tcl
from tritoncompat.language import _block_ptr
from tritoncompat.testing import TRITON_VERSION as V, FakeCuda, error_messages, interpreter_problem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from language_kernels import load_kernels  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The namespaces a kernel can take its block pointers from on this release.
MODES = ([("tl", tl)] if _block_ptr.HAS_NATIVE else []) + \
        ([("native", tcl.native)] if _block_ptr.HAS_NATIVE else []) + \
        ([("emulated", tcl.emulated)] if _block_ptr.HAS_EMULATION else [])
TCL_MODES = [(name, ns) for name, ns in MODES if name != "tl"]

# 2.1: the interpreter is the torch "debugger" of @triton.jit(interpret=True), without block
# pointers; 2.2 - 2.3: Triton's interpreter asserts padding_option is None and fails on the test
# kernels' own indexing (x[:, None] * n gives a numpy array). Those releases are checked compiled.
INTERPRETER_RUNS_BLOCK_POINTERS = V >= (3, 0)
# 2.2 - 2.3 compile no rank-3 block pointer of their own ("'tt.expand_dims' op failed to infer
# returned types" while rewriting it), tl.make_block_ptr as well as tcl.native.
RANK3_COMPILES = not (2, 2) <= V < (3, 0)


def _same_outcome_env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)
    env.pop("TRITONCOMPAT_BLOCK_PTR", None)
    env.update(extra)
    return env


# --- numerics in the interpreter ---------------------------------------------------------------------

CORPUS = ["attention_fwd", "bmm", "chunk_linear_attn_fwd", "chunk_local_cumsum", "gemv", "layer_norm_fwd",
          "matmul", "rms_norm_fwd", "softmax_rows", "torch:add_kernel_with_block_ptr",
          "torch:kernel_with_block_ptr_2d", "transpose"]


@pytest.fixture(scope="module")
def interpreted():
    """tests/language_interp.py's output lines, run once in a fresh interpreter under TRITON_INTERPRET=1."""
    if not INTERPRETER_RUNS_BLOCK_POINTERS:
        pytest.skip("2.1 - 2.3: the interpreter runs no block pointers (2.1: no TRITON_INTERPRET; 2.2 - 2.3: "
                    "padding_option asserts None, x[:, None] * n gives a numpy array)")
    if interpreter_problem() is not None:
        pytest.skip(interpreter_problem())
    out = subprocess.run([sys.executable, os.path.join(HERE, "language_interp.py"), "20"], capture_output=True,
                         text=True, env=_same_outcome_env(TRITON_INTERPRET="1"), timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    return {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines() if line.strip()}


def test_interpreter_numerics_equal_a_torch_reference(interpreted):
    cases, *names = interpreted["ok"]
    assert int(cases) == 20 and names == [name for name, _ in MODES]


@pytest.mark.skipif(V < (3, 8), reason="3.3 - 3.7's interpreters cannot run range(K) with a runtime K under NumPy 2 "
                    "(int() of a 1-element array; Triton 3.8 fixed it), 3.0 - 3.2's mask no negative offsets")
def test_corpus_gives_the_same_outputs_in_every_mode(interpreted):
    # 3.8: Triton's own block pointers, tcl.native and tcl.emulated bit-equal and equal to torch;
    # 3.9: tcl.emulated equal to torch
    assert interpreted["corpus"] == CORPUS


# --- compiled under the fake driver ------------------------------------------------------------------

def _launch_all(k):
    """Compile (and launch on the fake) every kernel of a load_kernels() module; the compiled kernels."""
    f32 = torch.float32
    a, b, c = torch.randn(64, 48), torch.randn(48, 32).t().contiguous().t(), torch.empty(64, 32)
    out = {}
    x2, y2 = torch.randn(40, 24), torch.empty(40, 24)
    out["tiles"] = k.tiles[(1,)](x2, y2, 40, 24, *x2.stride(), *y2.stride(), 30, 4, BM=16, BN=8)
    x3, o3 = torch.randn(6, 5, 9), torch.empty(4, 2, 8)
    if RANK3_COMPILES:
        out["cube"] = k.cube[(1,)](x3, o3, 6, 5, 9, *x3.stride(), B0=4, B1=2, B2=8)
    y1, s1 = torch.zeros(30, dtype=f32), torch.randn(16)
    out["row"] = k.row[(1,)](y1, s1, 30, 20, B0=16)
    out["matmul"] = k.matmul[(4, 2)](a, b, c, 64, 32, 48, *a.stride(), *b.stride(), *c.stride(), BM=16, BN=16,
                                      BK=16, NK=3)
    x, y = torch.randn(100), torch.empty(100)
    out["plain"] = k.plain[(4,)](x, y, 100, BLOCK=32)
    return out


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """compiled[(namespace, capability)]: {kernel: CompiledKernel}, each namespace compiled once.

    Cache directories: tl's and emulated's share one (the emulation must not find tl's entries);
    native's is its own (tl and native kernels have one cache key: builtins are not hashed, so a
    shared directory would hand native tl's binary and the comparison would prove nothing)."""
    shared = tmp_path_factory.mktemp("shared-cache")
    wanted = [(name, 90) for name, _ in MODES] + [(name, 80) for name, _ in TCL_MODES]
    out = {}
    old = os.environ.get("TRITON_CACHE_DIR")
    try:
        for name, capability in wanted:
            own = name == "native" or capability == 80
            cache = tmp_path_factory.mktemp(f"{name}-{capability}") if own else shared
            os.environ["TRITON_CACHE_DIR"] = str(cache)
            with FakeCuda(capability=capability) as fake:
                out[name, capability] = _launch_all(load_kernels(dict(MODES)[name]))
            assert len(fake.calls) == len(out[name, capability])
            assert os.listdir(cache)
    finally:
        if old is None:
            os.environ.pop("TRITON_CACHE_DIR", None)
        else:
            os.environ["TRITON_CACHE_DIR"] = old
    return out


@pytest.mark.parametrize("mode", [name for name, _ in TCL_MODES])
def test_kernels_compile_for_sm90_and_sm80(compiled, mode):
    for capability in (90, 80):
        for name, ck in compiled[mode, capability].items():
            assert len(ck.asm["cubin"]) > 1000, name
            assert f"sm_{capability}" in ck.asm["ptx"], (name, capability)


@pytest.mark.skipif(not _block_ptr.HAS_NATIVE, reason="3.9+: Triton has no block pointers to compare with")
def test_native_mode_compiles_the_binary_tl_make_block_ptr_compiles(compiled):
    digest = lambda kernels: {k: hashlib.sha256(ck.asm["cubin"]).hexdigest() for k, ck in kernels.items()}  # noqa
    assert digest(compiled["native", 90]) == digest(compiled["tl", 90])


@pytest.mark.skipif(not _block_ptr.HAS_EMULATION, reason="the emulation needs Triton 3.3+ (tl.tuple values)")
def test_emulated_kernels_never_share_a_cache_entry_with_native_ones(compiled):
    # One cache directory with tl's kernels, the same kernel source: the emulated helpers' source
    # (with the digest of _block_ptr.py) is in the emulated kernels' cache key.
    for name, ck in compiled["emulated", 90].items():
        assert "tritoncompat.language.emulated" in ck.asm["ttir"] or name == "plain", name
        assert "tt.make_tensor_ptr" not in ck.asm["ttir"], name
        if _block_ptr.HAS_NATIVE and name != "plain":
            first = compiled["tl", 90][name]
            assert ck.hash != first.hash, name
            assert "tritoncompat.language.emulated" not in first.asm["ttir"], name


@pytest.mark.skipif(not _block_ptr.HAS_EMULATION, reason="the emulation needs Triton 3.3+ (tl.tuple values)")
def test_emulated_loop_carries_only_the_offsets_that_move(compiled):
    # The block shape rides in the type of a never-read int8 tensor that advance() hands on: the
    # K loop of the matmul carries one int64 offset per block pointer and the accumulator, nothing
    # of the block shapes.
    ck = compiled["emulated", 90]["matmul"]
    loop = next(line for line in ck.asm["ttir"].splitlines() if "scf.for" in line)
    carried = loop.split("->", 1)[1]
    assert carried.count("i64") == 2 and "xi8" not in carried and "tensor<16x16xf32" in carried, loop


@pytest.mark.skipif(not _block_ptr.HAS_EMULATION, reason="the emulation needs Triton 3.3+ (tl.tuple values)")
def test_emulated_corpus_compiles(tmp_path, monkeypatch):
    # the corpus (written for the interpreter run) compiled for sm_90 through the emulation: every
    # kernel reaches the launcher
    import language_corpus

    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))
    with FakeCuda() as fake:
        language_corpus.run_all(language_corpus.load(tcl.emulated), language_corpus.torch_kernels(tcl.emulated))
    expected = {name.split(":")[-1] for name in CORPUS}
    assert len(fake.calls) == len(CORPUS)     # one launch per kernel
    assert {n for n in expected if any(loaded.startswith(n) for loaded, _, _ in fake.loaded)} == expected


@pytest.mark.skipif(_block_ptr.RELEASE < (3, 8), reason="3.3 - 3.7: the emulated block pointer is a tl.tuple, "
                    "without p.dtype (README)")
def test_emulated_block_pointer_has_a_dtype(tmp_path):
    # flash-linear-attention's habit: tl.store(p_o, b_o.to(p_o.dtype.element_ty), ...)
    spec, module = _bad_kernel("p = B.make_block_ptr(y, (n,), (1,), (0,), (16,), (0,))\n"
                               "B.store(p, tl.load(x + tl.arange(0, 16)).to(p.dtype.element_ty), boundary_check=(0,))",
                               tmp_path)
    module.B = tcl.emulated
    with FakeCuda() as fake:
        spec.loader.exec_module(module)
        ck = module.bad[(1,)](torch.randn(16), torch.empty(16, dtype=torch.float16), 16)
    assert len(fake.calls) == 1 and "cvt.rn.f16.f32" in ck.asm["ptx"]


# --- bad input ---------------------------------------------------------------------------------------

BAD = [
    # (name, kernel body, what the message must contain)
    ("block_shape not a power of two",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0, 0), (16, 12), (1, 0))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p), axis=1))",
     ["block_shape[1]", "power of two"]),
    ("block_shape not constexpr",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0, 0), (n, 16), (1, 0))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p), axis=0))",
     ["block_shape[0]", "constexpr"]),
    ("rank mismatch",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0,), (16, 16), (1, 0))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p), axis=0))",
     ["offsets", "1 entries", "block_shape", "2"]),
    ("boundary_check out of range",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p, boundary_check=(0, 2)), axis=0))",
     ["boundary_check", "2"]),
    ("unknown padding_option",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p, boundary_check=(0,), padding_option='inf'), axis=0))",
     ["padding_option", "'inf'"]),
    ("store of another shape",
     "p = B.make_block_ptr(y, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))\n"
     "B.store(p, tl.load(x + tl.arange(0, 8)[:, None] * 16 + tl.arange(0, 16)[None, :]))",
     ["value", "[8, 16]", "[16, 16]"]),
    ("advance of another rank",
     "p = B.make_block_ptr(x, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))\n"
     "p = B.advance(p, (16,))\n"
     "tl.store(y + tl.arange(0, 16), tl.sum(B.load(p), axis=0))",
     ["advance", "offsets", "1 entries"]),
]


def _bad_kernel(body, tmp_path):
    # from a file: Triton reads kernel source with inspect
    path = tmp_path / "bad_kernel.py"
    path.write_text("import triton\nimport triton.language as tl\n\n\n@triton.jit\ndef bad(x, y, n):\n"
                    + textwrap.indent(body, "    ") + "\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bad_kernel_{abs(hash(body))}", path)
    module = importlib.util.module_from_spec(spec)
    return spec, module


def _compile_error(body, namespace, tmp_path, shape):
    """The exception of compiling (and launching) a kernel ``bad(x, y, n)`` of ``body`` with ``B``
    bound to ``namespace``, under the fake driver; x and y of ``shape``."""
    spec, module = _bad_kernel(body, tmp_path)
    module.B = namespace
    with FakeCuda():
        spec.loader.exec_module(module)
        with pytest.raises(Exception) as info:
            module.bad[(1,)](torch.randn(*shape), torch.empty(*shape), 16)
    return info.value


@pytest.mark.parametrize("mode", [name for name, _ in TCL_MODES])
@pytest.mark.parametrize("name,body,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_compile_error_naming_the_argument(mode, name, body, needles, tmp_path):
    error = _compile_error(body, dict(TCL_MODES)[mode], tmp_path, (16, 16))
    text = error_messages(error)
    assert "triton" in type(error).__module__ or isinstance(error, (ValueError, TypeError)), text
    for needle in needles:
        assert needle in text, (needle, text)


RANK1 = "p = B.make_block_ptr(x, (n,), (1,), (0,), (16,), (0,))\ntl.store(y + tl.arange(0, 16), B.load(p))"


@pytest.mark.skipif(_block_ptr.HAS_EMULATION, reason="3.3+: the emulation exists")
def test_emulation_before_3_3_says_it_needs_3_3(tmp_path):
    error = _compile_error(RANK1, tcl.emulated, tmp_path, (16,))
    assert "emulated block pointers need Triton 3.3+" in error_messages(error)


@pytest.mark.skipif(_block_ptr.HAS_NATIVE, reason="before 3.9 Triton has block pointers")
def test_native_on_3_9_says_triton_removed_them(tmp_path):
    error = _compile_error(RANK1, tcl.native, tmp_path, (16,))
    assert "has no block pointers (3.9.0 removed them)" in error_messages(error)


# --- the knob and the package's imports --------------------------------------------------------------

def _mode_in_fresh_process(value):
    # what importing the language adds to what `import tritoncompat` loads: its own modules only
    code = "import sys, tritoncompat; before = set(sys.modules); import tritoncompat.language as tcl; " \
           "print(tcl.MODE.__name__, sorted(m for m in set(sys.modules) - before if m.startswith('tritoncompat') " \
           "and not m.startswith('tritoncompat.language')))"
    env = _same_outcome_env() if value is None else _same_outcome_env(TRITONCOMPAT_BLOCK_PTR=value)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_the_knob_chooses_the_block_pointers():
    auto = _mode_in_fresh_process(None)
    assert auto.returncode == 0, auto.stderr
    name, loaded = auto.stdout.split(" ", 1)
    assert name == ("tritoncompat.language.native" if _block_ptr.HAS_NATIVE else "tritoncompat.language.emulated")
    assert loaded.strip() == "[]", "the language imports none of the launch machinery: " + loaded
    for value, ok, expected in (("native", _block_ptr.HAS_NATIVE, "native"),
                                ("emulated", _block_ptr.HAS_EMULATION, "emulated"), ("bogus", False, None)):
        out = _mode_in_fresh_process(value)
        if ok:
            assert out.returncode == 0 and out.stdout.startswith(f"tritoncompat.language.{expected} "), out.stderr
        else:
            assert out.returncode != 0 and "TRITONCOMPAT_BLOCK_PTR" in out.stderr, out.stderr
