"""``python -m tritoncompat bench --decode``: an end-to-end figure, steps/s of a host-bound decode step.

A small Llama-shaped stack at batch 1 (default: 8 layers, hidden 512, 8 query heads x 64 with 2
KV heads, intermediate 1408, KV cache of 256 positions, fp16 activations and weights; no
embedding or vocabulary projection). Each layer of a step::

    rmsnorm -> qkv matmul -> rotary (q and k) -> KV-cache write -> decode attention -> o matmul
    -> residual add -> rmsnorm -> gate/up matmul -> swiglu -> down matmul -> residual add

8 launches of the 6 Triton kernels of this module (``KERNEL_SOURCE``) and 4 torch matmuls
(``F.linear``) per layer: 64 Triton launches and 32 matmuls per step by default. The kernels
load fp16 (or fp32), compute in fp32 and store in the tensors' dtype.

The position is fixed (``kv_len - 1``; attention covers all ``kv_len`` cached positions, the
last one written by the step itself) and every step reads the same input hidden state and writes
the same buffers, so a step is idempotent: the four modes compute the same thing, and the native
step can be captured into a CUDA graph (static shapes, pointers and scalars) and replayed.

Modes, measured in one process: ``native`` (plain ``kernel[grid](...)``), ``patched`` (the same
step under ``tritoncompat.patch()``, unpatched after), ``launch`` (the step written with
``tritoncompat.launch(kernel, grid, ...)``) and ``graph`` (the native step captured once into a
``torch.cuda.CUDAGraph`` after a warmup on a side stream, then replayed). The outputs of all four
are compared once before timing (and native against a pure-torch reference). Timing alternates
the modes in rounds (the VMs are noisy and speed up during a run): in each round every mode runs
``warmup`` steps, then ``steps`` steps timed with ``time.perf_counter()`` up to a
``torch.cuda.synchronize()`` after the last; the order of the modes rotates by one each round.
Reported: the median over rounds of steps/s per mode, and the median of the per-round ratios
mode/native. ``cache_info()`` deltas over each mode's timed rounds show the fast path was taken.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple

import tritoncompat

from . import _launch

__all__ = ["main", "run", "Shape", "DEFAULT_SHAPE", "TINY_SHAPE", "Decoder", "KERNEL_SOURCE", "KERNEL_NAMES",
           "load_kernels", "format_table"]

# The kernels use only language features of Triton 2.1 (and its interpreter: every constexpr is
# passed by keyword, reductions keep a dimension). ``jit`` is ``triton.jit``, or the
# interpreter's decorator in tests (tritoncompat.testing.INTERPRETER_PRELUDE defines it).
KERNEL_SOURCE = '''
@jit
def rmsnorm(x_ptr, w_ptr, out_ptr, n_cols, eps, BLOCK: tl.constexpr):
    """One program per row: out = x / sqrt(mean(x^2) + eps) * w."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)[None, :]  # [1, BLOCK]: the row's sum stays a [1] block (2.2-2.3 interpreter)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=1) / n_cols + eps)
    tl.store(out_ptr + row * n_cols + offs, x * rstd[:, None] * w, mask=mask)


@jit
def rotary(qkv_ptr, cos_ptr, sin_ptr, pos, HALF: tl.constexpr):
    """In place, one program per head of the q and k parts of qkv (q heads then k heads,
    contiguous): rotate-half rotary embedding at position pos (tables of HALF per position)."""
    head = tl.program_id(0)
    offs = tl.arange(0, HALF)
    x1_ptrs = qkv_ptr + head * HALF * 2 + offs
    x2_ptrs = x1_ptrs + HALF
    x1 = tl.load(x1_ptrs).to(tl.float32)
    x2 = tl.load(x2_ptrs).to(tl.float32)
    c = tl.load(cos_ptr + pos * HALF + offs).to(tl.float32)
    s = tl.load(sin_ptr + pos * HALF + offs).to(tl.float32)
    tl.store(x1_ptrs, x1 * c - x2 * s)
    tl.store(x2_ptrs, x2 * c + x1 * s)


@jit
def kv_write(qkv_ptr, k_cache_ptr, v_cache_ptr, pos, k_offset, v_offset, max_len, HEAD_DIM: tl.constexpr):
    """One program per KV head: copy its k and v from qkv into the caches ([kv_heads, max_len,
    HEAD_DIM]) at position pos."""
    head = tl.program_id(0)
    offs = tl.arange(0, HEAD_DIM)
    k = tl.load(qkv_ptr + k_offset + head * HEAD_DIM + offs)
    v = tl.load(qkv_ptr + v_offset + head * HEAD_DIM + offs)
    dst = (head * max_len + pos) * HEAD_DIM + offs
    tl.store(k_cache_ptr + dst, k)
    tl.store(v_cache_ptr + dst, v)


@jit
def attention(qkv_ptr, k_cache_ptr, v_cache_ptr, out_ptr, seq_len, max_len, group, scale,
              HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program per query head (its KV head: head // group), one query token over cache
    positions [0, seq_len), BLOCK_N at a time, with an online softmax. Running max and sum are
    [1] blocks (no 0-d reductions: the 2.2-2.3 interpreter has none)."""
    head = tl.program_id(0)
    d = tl.arange(0, HEAD_DIM)
    n = tl.arange(0, BLOCK_N)
    q = tl.load(qkv_ptr + head * HEAD_DIM + d).to(tl.float32) * scale
    base = (head // group) * max_len * HEAD_DIM
    m_i = tl.zeros([1], dtype=tl.float32) - 1.0e30
    l_i = tl.zeros([1], dtype=tl.float32)
    acc = tl.zeros([HEAD_DIM], dtype=tl.float32)
    for start in range(0, seq_len, BLOCK_N):
        cols = start + n
        valid = cols < seq_len
        offs = base + cols[:, None] * HEAD_DIM + d[None, :]
        k = tl.load(k_cache_ptr + offs, mask=valid[:, None], other=0.0).to(tl.float32)
        s = tl.where(valid, tl.sum(k * q[None, :], axis=1), -1.0e30)[:, None]  # [BLOCK_N, 1]
        m_new = tl.maximum(m_i, tl.max(s, axis=0))
        alpha = tl.exp(m_i - m_new)
        p = tl.exp(s - m_new[None, :])
        v = tl.load(v_cache_ptr + offs, mask=valid[:, None], other=0.0).to(tl.float32)
        l_i = l_i * alpha + tl.sum(p, axis=0)
        acc = acc * alpha + tl.sum(p * v, axis=0)
        m_i = m_new
    tl.store(out_ptr + head * HEAD_DIM + d, acc / l_i)


@jit
def swiglu(gate_up_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out = silu(gate) * up, gate_up = [gate (n), up (n)]."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    g = tl.load(gate_up_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(gate_up_ptr + n + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, g / (1.0 + tl.exp(-g)) * u, mask=mask)


@jit
def residual_add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """out = x + y."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    y = tl.load(y_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, x + y, mask=mask)
'''

KERNEL_NAMES = ("rmsnorm", "rotary", "kv_write", "attention", "swiglu", "residual_add")
TRITON_LAUNCHES_PER_LAYER = 8  # rmsnorm x2, rotary, kv_write, attention, swiglu, residual_add x2
MATMULS_PER_LAYER = 4  # qkv, o, gate/up, down
MODES = ("native", "patched", "launch", "graph")


def load_kernels() -> Any:
    """The decode kernels, as a module written to a real file (``@triton.jit`` needs source) and
    imported fresh: kernels defined after a fake driver is installed, as 2.1 needs."""
    import importlib.util
    import os
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="tritoncompat-decode-"), "tritoncompat_decode_kernels.py")
    with open(path, "w") as f:
        f.write("import triton\nimport triton.language as tl\n\njit = triton.jit\n" + KERNEL_SOURCE)
    spec = importlib.util.spec_from_file_location("tritoncompat_decode_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Shape(NamedTuple):
    hidden: int = 512
    heads: int = 8
    kv_heads: int = 2
    head_dim: int = 64
    layers: int = 8
    intermediate: int = 1408
    kv_len: int = 256
    block_n: int = 64  # attention: cache positions per iteration
    eps: float = 1e-5


DEFAULT_SHAPE = Shape()
# For the CPU tests: sizes that are not powers of two (masks), 3 attention blocks, GQA.
TINY_SHAPE = Shape(hidden=48, heads=4, kv_heads=2, head_dim=16, layers=2, intermediate=40, kv_len=21, block_n=8)


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class Decoder:
    """Weights, KV caches, rotary tables and work buffers of the stack, and its step written three
    ways: :meth:`step_native` (``kernel[grid](...)``), :meth:`step_launch`
    (``tritoncompat.launch``), :meth:`reference` (pure torch, fp32 math, the same roundings to
    ``dtype``; it changes nothing). A step reads ``self.x`` and leaves the result in
    ``self.h_out``, which it returns. ``kernels``: any object with the attributes
    :data:`KERNEL_NAMES` (the module of :func:`load_kernels`)."""

    def __init__(self, kernels: Any, shape: Shape = DEFAULT_SHAPE, dtype: Any = None, device: str = "cuda",
                 seed: int = 0) -> None:
        import torch

        s = self.shape = shape
        dtype = torch.float16 if dtype is None else dtype
        if s.heads % s.kv_heads or s.head_dim % 2:
            raise ValueError(f"bad shape {s}")
        self.dtype, self.device = dtype, device
        self.kernels = tuple(getattr(kernels, name) for name in KERNEL_NAMES)
        gen = torch.Generator().manual_seed(seed)

        def randn(*size: int, std: float = 1.0, mean: float = 0.0) -> Any:
            return (torch.randn(*size, generator=gen) * std + mean).to(device=device, dtype=dtype)

        d, hq, hkv, h, i = s.head_dim, s.heads, s.kv_heads, s.hidden, s.intermediate
        self.qkv_dim = (hq + 2 * hkv) * d
        self.layers = []
        for _ in range(s.layers):
            self.layers.append((
                randn(h, std=0.1, mean=1.0),  # attention norm weight
                randn(self.qkv_dim, h, std=h ** -0.5),  # wqkv
                randn(h, hq * d, std=(hq * d) ** -0.5),  # wo
                randn(h, std=0.1, mean=1.0),  # mlp norm weight
                randn(2 * i, h, std=h ** -0.5),  # w gate/up
                randn(h, i, std=i ** -0.5),  # w down
                randn(hkv, s.kv_len, d),  # k cache (position kv_len - 1 is written by the step)
                randn(hkv, s.kv_len, d),  # v cache
            ))
        half = d // 2
        inv_freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float64) / half))
        angles = torch.arange(s.kv_len, dtype=torch.float64)[:, None] * inv_freq[None, :]
        self.cos = angles.cos().to(device=device, dtype=torch.float32).contiguous()
        self.sin = angles.sin().to(device=device, dtype=torch.float32).contiguous()
        self.x = randn(1, h)
        zeros = lambda *size: torch.zeros(*size, device=device, dtype=dtype)  # noqa: E731
        self.normed, self.attn, self.h_mid, self.h_out, self.act = (
            zeros(1, h), zeros(1, hq * d), zeros(1, h), zeros(1, h), zeros(1, i))
        self.pos = s.kv_len - 1
        self.seq_len = s.kv_len
        self.group = hq // hkv
        self.scale = d ** -0.5
        self.k_offset, self.v_offset = hq * d, (hq + hkv) * d
        self.block_h = _pow2(h)
        self.block_i = min(1024, _pow2(i))
        self.block_n = min(s.block_n, _pow2(s.kv_len))
        self.grids = ((1,), (hq + hkv,), (hkv,), (hq,), ((h + self.block_h - 1) // self.block_h,),
                      ((i + self.block_i - 1) // self.block_i,))

    @property
    def triton_launches(self) -> int:
        return TRITON_LAUNCHES_PER_LAYER * self.shape.layers

    @property
    def matmuls(self) -> int:
        return MATMULS_PER_LAYER * self.shape.layers

    # step_native and step_launch are the same code but for how each Triton kernel is called:
    # keep them in sync (the correctness check and tests/test_decode.py compare them).
    def step_native(self) -> Any:
        """One decode step, every Triton kernel launched as ``kernel[grid](...)`` (the patched
        mode and the CUDA graph run this too)."""
        import torch.nn.functional as F

        rmsnorm, rotary, kv_write, attention, swiglu, residual_add = self.kernels
        g_row, g_rot, g_kv, g_heads, g_h, g_i = self.grids
        linear = F.linear
        s = self.shape
        hidden, inter, eps, pos, seq_len, max_len = s.hidden, s.intermediate, s.eps, self.pos, self.seq_len, s.kv_len
        normed, attn, h_mid, h_out, act, cos, sin = self.normed, self.attn, self.h_mid, self.h_out, self.act, self.cos, self.sin
        block_h, block_i, block_n, half, head_dim = self.block_h, self.block_i, self.block_n, s.head_dim // 2, s.head_dim
        k_offset, v_offset, group, scale = self.k_offset, self.v_offset, self.group, self.scale
        h = self.x
        for attn_norm, wqkv, wo, mlp_norm, wgu, wdown, k_cache, v_cache in self.layers:
            rmsnorm[g_row](h, attn_norm, normed, hidden, eps, BLOCK=block_h)
            qkv = linear(normed, wqkv)
            rotary[g_rot](qkv, cos, sin, pos, HALF=half)
            kv_write[g_kv](qkv, k_cache, v_cache, pos, k_offset, v_offset, max_len, HEAD_DIM=head_dim)
            attention[g_heads](qkv, k_cache, v_cache, attn, seq_len, max_len, group, scale,
                               HEAD_DIM=head_dim, BLOCK_N=block_n)
            o = linear(attn, wo)
            residual_add[g_h](h, o, h_mid, hidden, BLOCK=block_h)
            rmsnorm[g_row](h_mid, mlp_norm, normed, hidden, eps, BLOCK=block_h)
            gate_up = linear(normed, wgu)
            swiglu[g_i](gate_up, act, inter, BLOCK=block_i)
            down = linear(act, wdown)
            residual_add[g_h](h_mid, down, h_out, hidden, BLOCK=block_h)
            h = h_out
        return h_out

    def step_launch(self) -> Any:
        """:meth:`step_native` with every Triton kernel launched through ``tritoncompat.launch``."""
        import torch.nn.functional as F

        launch = tritoncompat.launch
        rmsnorm, rotary, kv_write, attention, swiglu, residual_add = self.kernels
        g_row, g_rot, g_kv, g_heads, g_h, g_i = self.grids
        linear = F.linear
        s = self.shape
        hidden, inter, eps, pos, seq_len, max_len = s.hidden, s.intermediate, s.eps, self.pos, self.seq_len, s.kv_len
        normed, attn, h_mid, h_out, act, cos, sin = self.normed, self.attn, self.h_mid, self.h_out, self.act, self.cos, self.sin
        block_h, block_i, block_n, half, head_dim = self.block_h, self.block_i, self.block_n, s.head_dim // 2, s.head_dim
        k_offset, v_offset, group, scale = self.k_offset, self.v_offset, self.group, self.scale
        h = self.x
        for attn_norm, wqkv, wo, mlp_norm, wgu, wdown, k_cache, v_cache in self.layers:
            launch(rmsnorm, g_row, h, attn_norm, normed, hidden, eps, BLOCK=block_h)
            qkv = linear(normed, wqkv)
            launch(rotary, g_rot, qkv, cos, sin, pos, HALF=half)
            launch(kv_write, g_kv, qkv, k_cache, v_cache, pos, k_offset, v_offset, max_len, HEAD_DIM=head_dim)
            launch(attention, g_heads, qkv, k_cache, v_cache, attn, seq_len, max_len, group, scale,
                   HEAD_DIM=head_dim, BLOCK_N=block_n)
            o = linear(attn, wo)
            launch(residual_add, g_h, h, o, h_mid, hidden, BLOCK=block_h)
            launch(rmsnorm, g_row, h_mid, mlp_norm, normed, hidden, eps, BLOCK=block_h)
            gate_up = linear(normed, wgu)
            launch(swiglu, g_i, gate_up, act, inter, BLOCK=block_i)
            down = linear(act, wdown)
            launch(residual_add, g_h, h_mid, down, h_out, hidden, BLOCK=block_h)
            h = h_out
        return h_out

    def reference(self) -> Any:
        """The step in pure torch (the kernels' math in fp32, rounded to ``dtype`` where the
        kernels store); reads the caches, changes nothing. Returns a new tensor."""
        import torch
        import torch.nn.functional as F

        s, dt = self.shape, self.dtype
        d, hq, hkv, half = s.head_dim, s.heads, s.kv_heads, s.head_dim // 2
        cos, sin = self.cos[self.pos], self.sin[self.pos]

        def rms(x: Any, w: Any) -> Any:
            x = x.float()
            return (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps) * w.float()).to(dt)

        def rope(x: Any) -> Any:  # [heads, d]
            x1, x2 = x[:, :half].float(), x[:, half:].float()
            return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(dt)

        h = self.x
        for attn_norm, wqkv, wo, mlp_norm, wgu, wdown, k_cache, v_cache in self.layers:
            qkv = F.linear(rms(h, attn_norm), wqkv)[0]
            q = rope(qkv[:hq * d].view(hq, d))
            k = rope(qkv[hq * d:(hq + hkv) * d].view(hkv, d))
            v = qkv[(hq + hkv) * d:].view(hkv, d)
            keys, values = k_cache.clone(), v_cache.clone()
            keys[:, self.pos], values[:, self.pos] = k, v
            keys = keys[:, :self.seq_len].float().repeat_interleave(self.group, dim=0)  # [hq, L, d]
            values = values[:, :self.seq_len].float().repeat_interleave(self.group, dim=0)
            scores = torch.einsum("hd,hld->hl", q.float() * self.scale, keys)
            attn = torch.einsum("hl,hld->hd", scores.softmax(-1), values).to(dt).reshape(1, hq * d)
            h_mid = (h.float() + F.linear(attn, wo).float()).to(dt)
            gate, up = F.linear(rms(h_mid, mlp_norm), wgu).float().chunk(2, dim=-1)
            act = (F.silu(gate) * up).to(dt)
            h = (h_mid.float() + F.linear(act, wdown).float()).to(dt)
        return h


# ----------------------------------------------------------------------------------- the benchmark
def _capture(step: Callable[[], Any]) -> Any:
    """``step`` captured into a CUDA graph, after a warmup on a side stream (torch's recipe)."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    torch.cuda.synchronize()
    return graph


def _info_delta(before: Any, after: Any) -> Dict[str, Any]:
    fallbacks = {k: v - before.fallbacks.get(k, 0) for k, v in after.fallbacks.items()
                 if v != before.fallbacks.get(k, 0)}
    return {"hits": after.hits - before.hits, "misses": after.misses - before.misses, "fallbacks": fallbacks}


def _add_delta(total: Dict[str, Any], delta: Dict[str, Any]) -> None:
    total["hits"] += delta["hits"]
    total["misses"] += delta["misses"]
    for k, v in delta["fallbacks"].items():
        total["fallbacks"][k] = total["fallbacks"].get(k, 0) + v


def _max_diff(a: Any, b: Any) -> float:
    return float((a.float() - b.float()).abs().max())


def run(shape: Shape = DEFAULT_SHAPE, rounds: int = 7, steps: int = 100, warmup: int = 10, device: str = "cuda",
        dtype: Any = None, check: bool = True) -> Dict[str, Any]:
    """Measure the four modes (without CUDA, ``device="cpu"``: no graph and no synchronisation,
    for the CPU tests of this code under a fake driver or the interpreter)."""
    import torch
    import triton

    gpu = device != "cpu"
    dtype = torch.float16 if dtype is None else dtype
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    status = _launch.status()
    model = Decoder(load_kernels(), shape, dtype=dtype, device=device)
    results: Dict[str, Any] = {
        "machine": torch.cuda.get_device_name() if gpu else "CPU",
        "triton": triton.__version__, "torch": torch.__version__, "python": sys.version.split()[0],
        "fast_path": status["fast_path"], "accelerator": status["accelerator"], "verify": status["verify"],
        "shape": shape._asdict(), "dtype": str(dtype).replace("torch.", ""), "position": model.pos,
        "triton_launches_per_step": model.triton_launches, "matmuls_per_step": model.matmuls,
        "rounds": rounds, "steps": steps, "warmup": warmup, "order": "native, patched, launch, graph; rotated by one each round",
    }
    modes = MODES if gpu else MODES[:3]

    # First steps (compiles, then the fast path's first launches), and the correctness check.
    outputs = {"native": model.step_native().clone()}
    sync()
    outputs["launch"] = model.step_launch().clone()
    sync()
    results["patch"] = tritoncompat.patch()
    try:
        outputs["patched"] = model.step_native().clone()
        sync()
    finally:
        tritoncompat.unpatch()
    graph = None
    if gpu:
        graph = _capture(model.step_native)
        model.h_out.zero_()
        graph.replay()
        sync()
        outputs["graph"] = model.h_out.clone()
    if check:
        reference = model.reference()
        tol = 1e-2 if dtype == torch.float16 else 1e-4
        diffs = {m: _max_diff(outputs[m], outputs["native"]) for m in modes if m != "native"}
        ref_err = _max_diff(outputs["native"], reference) / max(float(reference.float().abs().max()), 1e-30)
        same = all(torch.allclose(outputs[m].float(), outputs["native"].float(), rtol=tol, atol=tol)
                   for m in diffs)
        results["correctness"] = {
            "ok": bool(same and ref_err <= 5 * tol and all(torch.isfinite(o).all() for o in outputs.values())),
            "max_abs_diff_vs_native": diffs, "native_vs_reference_rel_err": ref_err, "tolerance": tol,
        }

    fns: Dict[str, Callable[[], Any]] = {"native": model.step_native, "patched": model.step_native,
                                         "launch": model.step_launch}
    if graph is not None:
        fns["graph"] = graph.replay
    samples: Dict[str, List[float]] = {m: [] for m in modes}
    infos: Dict[str, Dict[str, Any]] = {m: {"hits": 0, "misses": 0, "fallbacks": {}} for m in modes}
    perf = time.perf_counter
    for r in range(rounds):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        for mode in order:
            fn = fns[mode]
            gc.collect()
            if mode == "patched":
                tritoncompat.patch()
            try:
                for _ in range(warmup):
                    fn()
                sync()
                before = tritoncompat.cache_info()
                t0 = perf()
                for _ in range(steps):
                    fn()
                sync()
                elapsed = perf() - t0
                after = tritoncompat.cache_info()
            finally:
                if mode == "patched":
                    tritoncompat.unpatch()
            samples[mode].append(steps / elapsed)
            _add_delta(infos[mode], _info_delta(before, after))
    per_step = max(1, rounds * steps)
    results["steps_per_s"] = {m: {"median": statistics.median(v), "min": min(v), "max": max(v), "rounds": v}
                              for m, v in samples.items()}
    results["us_per_step"] = {m: 1e6 / results["steps_per_s"][m]["median"] for m in modes}
    results["ratios"] = {f"{m}/native": statistics.median(a / b for a, b in zip(samples[m], samples["native"]))
                         for m in modes if m != "native"}
    for mode, info in infos.items():
        info["hits_per_step"] = info["hits"] / per_step
    results["cache_info"] = infos
    results["cache_info_total"] = tritoncompat.cache_info()._asdict()
    return results


_LABELS = {"native": "native", "patched": "patched", "launch": "launch()", "graph": "CUDA graph"}


def format_table(results: Dict[str, Any]) -> str:
    s = results["shape"]
    rows = [
        f"tritoncompat bench --decode: {results['machine']}; triton {results['triton']}, torch {results['torch']}, "
        f"python {results['python']}; fast path {'on' if results['fast_path'] else 'off'}, "
        f"accelerator {results['accelerator']}" + (", TRITONCOMPAT_VERIFY on" if results["verify"] else ""),
        f"decode step, batch 1, {results['dtype']}: {s['layers']} layers, hidden {s['hidden']}, {s['heads']} heads x "
        f"{s['head_dim']} ({s['kv_heads']} KV heads), intermediate {s['intermediate']}, KV length {s['kv_len']} "
        f"(fixed position {results['position']}); per step {results['triton_launches_per_step']} Triton launches, "
        f"{results['matmuls_per_step']} torch matmuls",
        f"{results['rounds']} rounds x {results['steps']} steps per mode ({results['warmup']} warmup steps before "
        f"each), order {results['order']}; steps/s median over rounds, ratio = median of per-round ratios",
    ]
    c = results.get("correctness")
    if c is not None:
        diffs = ", ".join(f"{_LABELS[m]} {d:.3g}" for m, d in c["max_abs_diff_vs_native"].items())
        rows.append(f"correctness (hidden state after one step): {'ok' if c['ok'] else 'FAILED'}; max abs diff vs "
                    f"native: {diffs}; native vs torch reference: max rel err {c['native_vs_reference_rel_err']:.3g} "
                    f"(tolerance {c['tolerance']:g})")
    header = (f"{'mode':<12}{'steps/s':>10}{'min':>10}{'max':>10}{'us/step':>10}{'x native':>10}"
              f"   cache_info over the timed rounds")
    rows += [header, "-" * len(header)]
    for mode, t in results["steps_per_s"].items():
        ratio = 1.0 if mode == "native" else results["ratios"][f"{mode}/native"]
        info = results["cache_info"][mode]
        cache = (f"hits {info['hits']} ({info['hits_per_step']:g}/step), misses {info['misses']}, "
                 f"fallbacks {info['fallbacks'] or 0}")
        rows.append(f"{_LABELS[mode]:<12}{t['median']:>10.1f}{t['min']:>10.1f}{t['max']:>10.1f}"
                    f"{results['us_per_step'][mode]:>10.1f}{ratio:>10.3f}   {cache}")
    return "\n".join(rows)


def main(argv: List[str]) -> int:
    import os

    import torch

    if not torch.cuda.is_available():
        print("tritoncompat bench --decode: needs a CUDA GPU (torch.cuda.is_available() is False here); it times a "
              "real decode step end to end, so it has no CPU or --fake mode (plain `bench --fake` measures the "
              "host-side launch cost without a GPU)", file=sys.stderr)
        return 2
    if os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on", "y"):
        print("tritoncompat bench --decode: unset TRITON_INTERPRET; the interpreter runs on the host, there is "
              "nothing to time", file=sys.stderr)
        return 2
    results = run()
    if "--json" in argv:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(format_table(results))
    ok = results.get("correctness", {}).get("ok", True)
    return 0 if ok else 1
