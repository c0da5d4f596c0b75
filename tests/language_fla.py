"""Real block-pointer kernels written by others: flash-linear-attention (fla-core 0.3.2, MIT, from
the package index; its kernels before fla migrated off block pointers) run in Triton's
interpreter, as fla ships them ("original") or with their block pointers renamed to
tritoncompat.language ("tcl"); outputs and torch references saved for tests/test_language_fla.py.

    TRITON_INTERPRET=1 python tests/language_fla.py original|tcl OUT.pt        # CPU, the interpreter
    python tests/language_fla.py original|tcl OUT.pt cuda                        # a GPU, compiled

``tcl`` runs a copy of the installed fla rewritten by ``python -m tritoncompat migrate`` (the
``TRITONCOMPAT_BLOCK_PTR`` environment variable picks native or emulated block pointers). Each
case's outputs and torch reference go to OUT.pt; a case that raises is recorded with its error.
"""
import contextlib
import os
import re
import shutil
import sys
import tempfile

mode, out_path = sys.argv[1], sys.argv[2]
device = sys.argv[3] if len(sys.argv) > 3 else "cpu"
assert (os.environ.get("TRITON_INTERPRET") == "1") == (device == "cpu"), "the interpreter on CPU, compiled on a GPU"

import torch  # noqa: E402
import triton  # noqa: E402

import fla as _installed  # noqa: E402

# Where this test differs from fla's own use, and why:
# * fla's input_guard enters torch.<device>.device(index); torch.cpu has no such context: none here;
# * every @triton.autotune keeps its first config (as vLLM's VLLM_TRITON_FORCE_FIRST_CONFIG does):
#   the interpreter has no driver to benchmark configs with, and one config is one kernel to compare.
torch.cpu.device = lambda index=None: contextlib.nullcontext()
torch.set_default_device(device)
_autotune = triton.autotune
triton.autotune = lambda configs, key, **kw: _autotune(configs=configs[:1], key=key, **kw)

if mode == "tcl":
    from tritoncompat import _migrate
    root = tempfile.mkdtemp(prefix="tc-fla-")
    shutil.copytree(os.path.dirname(_installed.__file__), os.path.join(root, "fla"))
    changed, failed = _migrate.rewrite_files([os.path.join(root, "fla")], write=True)
    assert not failed, failed
    rewritten = len(changed)
    for name in [m for m in sys.modules if m == "fla" or m.startswith("fla.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    import fla  # noqa: E402
    assert fla.__file__.startswith(root), fla.__file__
    print("rewritten files:", rewritten)


def rand(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed + sum(shape))  # drawn on CPU: the same numbers on every device
    return torch.randn(*shape, generator=g, dtype=dtype, device="cpu").to(device)


def case_cumsum():
    from fla.ops.utils.cumsum import chunk_global_cumsum, chunk_local_cumsum
    g, gv = rand(2, 128, 2), rand(2, 128, 2, 32)
    out = {"local scalar": chunk_local_cumsum(g, chunk_size=64),
           "local vector": chunk_local_cumsum(gv, chunk_size=64),
           "global scalar": chunk_global_cumsum(g), "global vector": chunk_global_cumsum(gv)}
    ref = {"local scalar": g.view(2, 2, 64, 2).cumsum(2).view(2, 128, 2),
           "local vector": gv.view(2, 2, 64, 2, 32).cumsum(2).view(2, 128, 2, 32),
           "global scalar": g.cumsum(1), "global vector": gv.cumsum(1)}
    return out, ref


def case_l2norm():
    from fla.modules.l2norm import l2norm_fwd
    x = rand(64, 32)
    y = l2norm_fwd(x)
    y = y[0] if isinstance(y, tuple) else y
    return {"l2norm": y}, {"l2norm": x / x.norm(dim=-1, keepdim=True).clamp_min(1e-6)}


def case_layer_norm():
    from fla.modules.layernorm import layer_norm_fwd
    x, w, b = rand(48, 64), rand(64, seed=1), rand(64, seed=2)
    y = layer_norm_fwd(x, w, b, eps=1e-5)[0]
    r = layer_norm_fwd(x, w, None, eps=1e-5, is_rms_norm=True)[0]
    return ({"layer norm": y, "rms norm": r},
            {"layer norm": torch.nn.functional.layer_norm(x, (64,), w, b, 1e-5),
             "rms norm": x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w})


def case_mean_pooling():
    from fla.ops.utils.pooling import mean_pooling
    x = rand(2, 96, 2, 32)
    return {"mean pooling": mean_pooling(x, chunk_size=32)}, {"mean pooling": x.view(2, 3, 32, 2, 32).mean(2)}


def case_kkt():
    from fla.ops.common.chunk_scaled_dot_kkt import chunk_scaled_dot_kkt_fwd
    k, beta = rand(1, 128, 2, 32), rand(1, 128, 2, seed=1).sigmoid()
    A = chunk_scaled_dot_kkt_fwd(k=k, beta=beta, chunk_size=64)
    kc = k.view(1, 2, 64, 2, 32).transpose(2, 3)  # [B, NT, H, BT, K]
    ref = (kc @ kc.transpose(-1, -2)) * beta.view(1, 2, 64, 2).transpose(2, 3)[..., None]
    ref = ref.tril(-1).transpose(2, 3).reshape(1, 128, 2, 64)
    return {"scaled kkt": A}, {"scaled kkt": ref}


def case_solve_tril():
    from fla.ops.utils.solve_tril import solve_tril
    out, ref = {}, {}
    for bt in (16, 32, 64):
        A = (rand(1, 2 * bt, 2, bt, seed=bt) * 0.1).view(1, 2, bt, 2, bt).transpose(2, 3).tril(-1)
        eye = torch.eye(bt, device=device)
        ref[f"solve_tril {bt}"] = torch.linalg.inv(eye + A).transpose(2, 3).reshape(1, 2 * bt, 2, bt)
        out[f"solve_tril {bt}"] = solve_tril(A.transpose(2, 3).reshape(1, 2 * bt, 2, bt).contiguous())
    return out, ref


def case_chunk_gla():
    from fla.ops.gla import chunk_gla
    from fla.ops.gla.naive import naive_recurrent_gla
    q, k, v = rand(1, 64, 2, 32), rand(1, 64, 2, 32, seed=1), rand(1, 64, 2, 32, seed=2)
    g = torch.nn.functional.logsigmoid(rand(1, 64, 2, 32, seed=3))
    o, ht = chunk_gla(q, k, v, g, output_final_state=True)
    ro, rht = naive_recurrent_gla(q, k, v, g, output_final_state=True)
    return {"chunk_gla o": o, "chunk_gla ht": ht}, {"chunk_gla o": ro, "chunk_gla ht": rht}


def case_parallel_attn():
    from fla.ops.attn.parallel import parallel_attn
    q, k, v = rand(1, 64, 2, 32), rand(1, 64, 2, 32, seed=1), rand(1, 64, 2, 32, seed=2)
    o = parallel_attn(q, k, v, scale=32 ** -0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, scale=32 ** -0.5).transpose(1, 2)
    return {"parallel attn": o}, {"parallel attn": ref}


def case_simple_gla():
    from fla.ops.simple_gla import chunk_simple_gla, parallel_simple_gla
    from fla.ops.simple_gla.naive import naive_recurrent_simple_gla
    q, k, v = rand(1, 64, 2, 32), rand(1, 64, 2, 32, seed=1), rand(1, 64, 2, 32, seed=2)
    g = torch.nn.functional.logsigmoid(rand(1, 64, 2, seed=3))
    o, _ = chunk_simple_gla(q, k, v, g, scale=32 ** -0.5)
    p = parallel_simple_gla(q, k, v, g, scale=32 ** -0.5)[0]
    ref = naive_recurrent_simple_gla(q, k, v, g, scale=32 ** -0.5)[0]
    return {"chunk_simple_gla": o, "parallel_simple_gla": p}, {"chunk_simple_gla": ref, "parallel_simple_gla": ref}


CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("case_")}
results = {}
for name, case in CASES.items():
    try:
        out, ref = case()
        results[name] = {"out": {k: v.detach().cpu() for k, v in out.items()},
                         "ref": {k: v.detach().cpu() for k, v in ref.items()}}
        print(name, "ran", {k: float((out[k].float() - ref[k].float()).abs().max()) for k in out})
    except Exception as exc:  # the test reports it: the same case must run in every mode
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(name, "raised", type(exc).__name__, exc)
torch.save(results, out_path)
