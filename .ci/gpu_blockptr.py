"""Kernel time of emulated against native block pointers on the GPU (CUDA events, one process,
interleaved rounds), for a matmul, a row-wise norm and an attention-like kernel of
tests/language_corpus.py, with their outputs checked. Run by .ci/gpu-blockptr.

Native is Triton's own block pointers through tritoncompat.language.native (the same binary as
tl.make_block_ptr); emulated is tritoncompat.language.emulated. On 3.9+ only emulated exists.
"""
import json
import os
import statistics
import sys

import torch
import triton

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import language_corpus  # noqa: E402
import tritoncompat.language as tcl  # noqa: E402
from tritoncompat.language import _block_ptr  # noqa: E402


def cases(k, dtype):
    """name -> (launch(), output tensor, reference tensor)"""
    torch.manual_seed(0)
    dev = os.environ.get("BLOCKPTR_DEVICE", "cuda")   # "cpu": a compile check under the fake driver
    out = {}

    M = N = K = 4096
    a, b = torch.randn(M, K, device=dev, dtype=dtype), torch.randn(K, N, device=dev, dtype=dtype)
    c = torch.empty(M, N, device=dev, dtype=dtype)
    grid = (triton.cdiv(M, 128), triton.cdiv(N, 128))
    out["matmul 4096^3"] = (lambda: k.matmul[grid](a, b, c, M, N, K, *a.stride(), *b.stride(), *c.stride(),
                                                     BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, num_warps=8,
                                                     num_stages=3), c, lambda: (a.float() @ b.float()).to(dtype))

    rows, cols = 16384, 4096
    x = torch.randn(rows, cols, device=dev, dtype=dtype)
    w, bias = torch.randn(cols, device=dev, dtype=dtype), torch.randn(cols, device=dev, dtype=dtype)
    y = torch.empty_like(x)
    mean = torch.empty(rows, device=dev, dtype=torch.float32)
    rstd = torch.empty(rows, device=dev, dtype=torch.float32)
    out["layer_norm 16384x4096"] = (
        lambda: k.layer_norm_fwd[(rows,)](x, y, w, bias, mean, rstd, cols, x.stride(0), y.stride(0), 1e-5,
                                          BLOCK_N=1024, num_warps=8), y,
        lambda: torch.nn.functional.layer_norm(x.float(), (cols,), w.float(), bias.float(), 1e-5).to(dtype))

    n_ctx, d = 16384, 64
    q, kk, v = (torch.randn(n_ctx, d, device=dev, dtype=dtype) for _ in range(3))
    o = torch.empty(n_ctx, d, device=dev, dtype=dtype)
    out["attention n_ctx=16384 d=64"] = (
        lambda: k.attention_fwd[(triton.cdiv(n_ctx, 128),)](q, kk, v, o, d ** -0.5, n_ctx, *q.stride(), *kk.stride(),
                                                            *v.stride(), *o.stride(), BLOCK_M=128, BLOCK_N=64,
                                                            HEAD_DIM=d, num_warps=4, num_stages=3), o,
        lambda: torch.nn.functional.scaled_dot_product_attention(q[None, None].float(), kk[None, None].float(),
                                                                 v[None, None].float())[0, 0].to(dtype))
    return out


def time_ms(fn, iters):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iters


def main():
    rounds = int(os.environ.get("ROUNDS", "7"))
    iters = int(os.environ.get("ITERS", "20"))
    dtype = torch.float16
    variants = {}
    if _block_ptr.HAS_NATIVE:
        variants["native"] = cases(language_corpus.load(tcl.native), dtype)
    variants["emulated"] = cases(language_corpus.load(tcl.emulated), dtype)
    report = {"triton": triton.__version__, "torch": torch.__version__, "gpu": torch.cuda.get_device_name(),
              "rounds": rounds, "iters": iters, "cases": {}}
    print(f"Triton {triton.__version__}, {report['gpu']}: kernel ms (median of {rounds} interleaved rounds of "
          f"{iters} launches, CUDA events)")
    status = 0
    for name in variants["emulated"]:
        for variant in variants.values():      # compile, warm up, check against torch
            launch, got, ref = variant[name]
            launch()
            torch.cuda.synchronize()
            expected = ref()
            ok = torch.allclose(got.float(), expected.float(), rtol=2e-2, atol=2e-2)
            if not ok:
                status = 1
                print(f"  {name}: output differs from torch (max abs diff "
                      f"{(got.float() - expected.float()).abs().max().item():.3g})")
        if "native" in variants:
            same = torch.equal(variants["native"][name][1], variants["emulated"][name][1])
            print(f"  {name}: emulated output {'bit-equal to' if same else 'differs from'} native")
        times = {v: [] for v in variants}
        for r in range(rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))   # interleaved
            for v in order:
                times[v].append(time_ms(variants[v][name][0], iters))
        row = {v: statistics.median(t) for v, t in times.items()}
        if "native" in times:
            row["emulated/native"] = statistics.median(e / n for e, n in zip(times["emulated"], times["native"]))
        report["cases"][name] = row
        print(f"{name:<30}" + "".join(f"{k} {v:.4f}  " for k, v in row.items()))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, f"blockptr-{triton.__version__}.json"), "w") as f:
            json.dump(report, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
