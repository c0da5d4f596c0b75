"""The decode benchmark's kernels and step (tritoncompat/_decode.py, ``bench --decode``) on a CPU:
each Triton kernel and one whole decode step against torch references through Triton's
interpreter (in a subprocess), and the step's launches through the fast path under ``launch()``
and ``patch()`` with the fake driver (Triton compiles the fp16 kernels for real)."""

import json

import pytest

pytestmark = [pytest.mark.triton]

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

import tritoncompat  # noqa: E402
from tritoncompat import _decode  # noqa: E402
from tritoncompat.testing import TRITON_VERSION as V, interpreter_problem, run_interpreter_snippet  # noqa: E402

# Test-side fixes of interpreter bugs of some releases that these kernels run into (the kernels
# themselves compile on every release: see the fake-driver tests below).
_SHIMS = ""
if V[:2] == (2, 1):
    # 2.1's debugger passes Triton's dtype to torch's Tensor.to: map it ...
    _SHIMS = '''
_TORCH_DT = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
def _to(self, dtype, bitcast=False):
    dtype = getattr(dtype, "value", dtype)
    return _L.WrappedTensor(self.tensor.to(_TORCH_DT[dtype.name]))
_L.WrappedTensor.to = _to
# ... and takes only constexpr shape elements in tl.zeros (compiled Triton wraps literals).
_ZEROS = _L.TritonLangProxy.zeros
def _zeros(self, shape, dtype):
    return _ZEROS(self, [d if isinstance(d, _L.debugger_constexpr) else _L.debugger_constexpr(d) for d in shape], dtype)
_L.TritonLangProxy.zeros = _zeros
'''
elif V[:2] in ((2, 2), (2, 3)):
    # 2.2-2.3 replace tensor.__getitem__ with numpy indexing (x[:, None] gives an ndarray): put
    # Triton's own (expand_dims) back after the interpreter patches tl.tensor.
    _SHIMS = '''
import triton.runtime.interpreter as _I
_GETITEM = tl.core.tensor.__getitem__
_PATCH_TENSOR = _I._patch_lang_tensor
def _patch_tensor(tensor, builder):
    _PATCH_TENSOR(tensor, builder)
    _I.patch_attr(tensor, "__getitem__", _GETITEM, builder)
_I._patch_lang_tensor = _patch_tensor
'''
elif (3, 2) <= V[:2] < (3, 7):
    # 3.2-3.6: int(ndarray of shape (1,)) for a runtime int used as an index (range(0, seq_len, ...))
    # raises with numpy 2; 3.7 squeezes first. Do as 3.7 does.
    _SHIMS = '''
import triton.runtime.interpreter as _I
_PATCH_TENSOR = _I._patch_lang_tensor
def _patch_tensor(tensor, *args):
    _PATCH_TENSOR(tensor, *args)
    tensor.__index__ = lambda self: int(self.handle.data.squeeze())
_I._patch_lang_tensor = _patch_tensor
'''

needs_interpreter = pytest.mark.skipif(interpreter_problem() is not None, reason=str(interpreter_problem()))


def _run(code):
    result = run_interpreter_snippet(_SHIMS + _decode.KERNEL_SOURCE + code, timeout=240)
    assert "DECODE_OK" in result.stdout, (result.stdout[-2000:], result.stderr[-4000:])
    return result


KERNELS = '''
import math
import sys
import torch.nn.functional as F

def check(name, got, want, tol=1e-4):
    err = (got.float() - want.float()).abs().max().item()
    assert err <= tol, f"{name}: max abs err {err}"

def main():
    g = torch.Generator().manual_seed(1)
    randn = lambda *s: torch.randn(*s, generator=g)

    # rmsnorm: 3 rows of 40 (BLOCK 64, masked)
    x, w, out = randn(3, 40), randn(40), torch.zeros(3, 40)
    rmsnorm[(3,)](x, w, out, 40, 1e-5, BLOCK=64)
    check("rmsnorm", out, x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w)

    # rotary: qkv of 3 q heads, 1 k head (rotated) and 1 v head (untouched), head dim 8, position 5
    half, pos = 4, 5
    inv = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float64) / half))
    ang = torch.arange(7, dtype=torch.float64)[:, None] * inv
    cos, sin = ang.cos().float().contiguous(), ang.sin().float().contiguous()
    qkv = randn(5 * 8)
    want = qkv.clone().view(5, 8)
    x1, x2 = want[:4, :half].clone(), want[:4, half:].clone()
    want[:4, :half], want[:4, half:] = x1 * cos[pos] - x2 * sin[pos], x2 * cos[pos] + x1 * sin[pos]
    rotary[(4,)](qkv, cos, sin, pos, HALF=half)
    check("rotary", qkv.view(5, 8), want)

    # kv_write: 2 kv heads of 8 from qkv (4 q heads) into caches of 6 positions at position 4
    qkv = randn((4 + 2 * 2) * 8)
    kc, vc = randn(2, 6, 8), randn(2, 6, 8)
    kw, vw = kc.clone(), vc.clone()
    kw[:, 4], vw[:, 4] = qkv[32:48].view(2, 8), qkv[48:].view(2, 8)
    kv_write[(2,)](qkv, kc, vc, 4, 32, 48, 6, HEAD_DIM=8)
    check("kv_write k", kc, kw, 0)
    check("kv_write v", vc, vw, 0)

    # attention: 4 q heads, 2 kv heads (group 2), head dim 8, 19 of 23 cached positions,
    # blocks of 8 (3 iterations, the last masked); scores large enough to need the online max
    qkv, kc, vc, out = randn(8 * 8) * 3, randn(2, 23, 8) * 3, randn(2, 23, 8), torch.zeros(4 * 8)
    attention[(4,)](qkv, kc, vc, out, 19, 23, 2, 8 ** -0.5, HEAD_DIM=8, BLOCK_N=8)
    q = qkv[:32].view(4, 8)
    keys, values = kc[:, :19].repeat_interleave(2, 0), vc[:, :19].repeat_interleave(2, 0)
    p = (torch.einsum("hd,hld->hl", q, keys) * 8 ** -0.5).softmax(-1)
    check("attention", out.view(4, 8), torch.einsum("hl,hld->hd", p, values))

    # swiglu: 40 (blocks of 16: 3 programs, the last masked)
    gu, out = randn(80) * 4, torch.zeros(40)
    swiglu[(3,)](gu, out, 40, BLOCK=16)
    check("swiglu", out, F.silu(gu[:40]) * gu[40:])

    # residual_add: 40 in blocks of 16
    x, y, out = randn(40), randn(40), torch.zeros(40)
    residual_add[(3,)](x, y, out, 40, BLOCK=16)
    check("residual_add", out, x + y, 0)
    print("DECODE_OK")

main()
'''

STEP = '''
import sys
import tritoncompat
from tritoncompat import _decode

def main():
    kernels = sys.modules[__name__]
    model = _decode.Decoder(kernels, _decode.TINY_SHAPE, dtype=torch.float32, device="cpu")
    reference = model.reference()
    outs = {"native": model.step_native().clone(), "launch": model.step_launch().clone()}
    with tritoncompat.patched():
        outs["patched"] = model.step_native().clone()
    again = model.step_native().clone()  # a step is idempotent (fixed position, same input)
    for name, out in outs.items():
        err = (out - reference).abs().max().item()
        assert err <= 1e-4, f"{name}: max abs err {err} against the torch reference"
    assert torch.equal(again, outs["native"])
    assert reference.abs().max() > 0.1 and torch.isfinite(reference).all()
    print("DECODE_OK", tritoncompat.cache_info())

main()
'''


@needs_interpreter
def test_kernels_match_torch_in_interpreter():
    _run(KERNELS)


@needs_interpreter
def test_decode_step_matches_torch_in_interpreter():
    _run(STEP)


def test_reference_is_pure():
    """The torch reference reads the caches and changes nothing; the tiny shape covers masks,
    several attention blocks and GQA."""
    model = _decode.Decoder(_Stub(), _decode.TINY_SHAPE, dtype=torch.float32, device="cpu")
    caches = [(k.clone(), v.clone()) for *_, k, v in model.layers]
    first = model.reference()
    assert torch.equal(first, model.reference())
    assert all(torch.equal(k, k0) and torch.equal(v, v0) for (*_, k, v), (k0, v0) in zip(model.layers, caches))
    s = _decode.TINY_SHAPE
    assert s.hidden & (s.hidden - 1) and s.intermediate & (s.intermediate - 1) and s.kv_len > 2 * s.block_n
    assert s.heads > s.kv_heads


class _Stub:
    def __getattr__(self, name):
        return name


def _expected_fast(model):
    return {"hits": model.triton_launches, "misses": 0, "fallbacks": {}}


def _delta(before, after):
    return _decode._info_delta(before, after)


@pytest.mark.parametrize("mode", ["launch", "patched"])
def test_decode_step_takes_the_fast_path(fake_cuda, mode):
    kernels = _decode.load_kernels()  # after the fake is installed (2.1)
    model = _decode.Decoder(kernels, _decode.DEFAULT_SHAPE._replace(layers=2), dtype=torch.float16, device="cpu")
    step = model.step_launch if mode == "launch" else model.step_native
    with tritoncompat.patched() if mode == "patched" else _nothing():
        step()  # compiles (Triton's own path once per kernel), then builds the fast keys
        fake_cuda.calls.clear()
        before = tritoncompat.cache_info()
        step()
        after = tritoncompat.cache_info()
    assert _delta(before, after) == _expected_fast(model), after
    assert len(fake_cuda.calls) == model.triton_launches
    # the native step launches the same compiled kernels (one function handle per kernel and
    # specialization: 2 rmsnorm, 2 residual_add calls per layer share theirs)
    fast_calls = list(fake_cuda.calls)
    fake_cuda.calls.clear()
    model.step_native()
    assert len(fake_cuda.calls) == len(fast_calls)
    assert _delta(after, tritoncompat.cache_info())["hits"] == 0


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_bench_code_runs_on_the_fake(fake_cuda, capsys):
    """run() / format_table() / JSON on the CPU (no graph mode, no correctness check: the fake
    launches compute nothing): every timed patched and launch() step is all hits."""
    results = _decode.run(shape=_decode.DEFAULT_SHAPE._replace(layers=2), rounds=3, steps=2, warmup=1, device="cpu", check=False)
    per_step = 8 * 2
    assert results["triton_launches_per_step"] == per_step
    for mode in ("patched", "launch"):
        info = results["cache_info"][mode]
        assert info == {"hits": per_step * 3 * 2, "misses": 0, "fallbacks": {}, "hits_per_step": per_step}, info
    assert results["cache_info"]["native"]["hits"] == 0
    assert set(results["ratios"]) == {"patched/native", "launch/native"}
    assert all(len(v["rounds"]) == 3 for v in results["steps_per_s"].values())
    table = _decode.format_table(results)
    assert "launch()" in table and f"hits {per_step * 6} ({per_step}/step)" in table, table
    json.loads(json.dumps(results, default=str))


def test_bench_decode_needs_a_gpu(monkeypatch, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from tritoncompat import __main__ as cli

    assert cli.main(["bench", "--decode"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
