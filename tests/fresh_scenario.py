"""One fresh-process scenario, run as a script by tests/test_fresh_process.py:

    python tests/fresh_scenario.py SCENARIO MODE RESULT_JSON

MODE ``native`` never imports tritoncompat's launch path (Triton's own ``kernel[grid]``);
``patched`` calls ``tritoncompat.patch()`` and launches with ``kernel[grid]``; ``launch`` uses
``tritoncompat.launch()``. Each process starts cold: nothing was launched, Triton has created no
driver, and (on a GPU machine) torch has not touched CUDA before the scenario's first launch
(except where the scenario says so). On a machine without a GPU the fake CUDA driver is installed
(lazily created by Triton, as the real one) and every launch's launcher tuple is recorded; on a
GPU the outputs are recorded. The result (normalised launcher tuples, outputs, the error raised if
any, tritoncompat's counters) goes to RESULT_JSON; the test compares it with the native run's.

Kernels are defined in this file (Triton reads their source), inside functions called after the
fake is installed (2.1 binds its device functions at decoration).
"""

import hashlib
import json
import os
import sys
import traceback
import warnings

SCENARIO, MODE, RESULT = sys.argv[1:4]
FAST = MODE != "native"

if SCENARIO == "patch_at_import" and FAST:
    # The client's package imports tritoncompat and patches before anything else, torch included.
    import tritoncompat

    tritoncompat.patch()
    assert "torch" not in sys.modules or not sys.modules["torch"].cuda.is_initialized()

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
if INTERPRET:  # this release's interpreter patches (2.2: the Builder's missing target), as the suite applies them
    from tritoncompat.testing import INTERPRETER_PRELUDE

    exec(INTERPRETER_PRELUDE, {})
GPU = torch.cuda.is_available() and not INTERPRET
DEVICE = "cuda" if GPU else "cpu"
fake = None
if not GPU and not INTERPRET:
    from tritoncompat.testing import FakeCuda

    fake = FakeCuda().install()

LIBRARY_CALLS = []
if SCENARIO == "library_patched_first":
    # Another library patched Triton before tritoncompat was imported (as vLLM does at start-up):
    # a functools.wraps tracer on JITFunction.__getitem__ and vLLM's VLLM_TRITON_FORCE_FIRST_CONFIG
    # Autotuner.run (the first config, launched through self.fn.run; Triton's run never called).
    import functools

    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction, KernelInterface

    kept_getitem = KernelInterface.__getitem__

    @functools.wraps(kept_getitem)
    def traced_getitem(self, grid):
        LIBRARY_CALLS.append("getitem")
        return kept_getitem(self, grid)

    def run_first_config(self, *args, **kwargs):
        LIBRARY_CALLS.append("autotuner")
        config = self.configs[0]
        if hasattr(config, "all_kwargs"):  # 3.0+
            options = config.all_kwargs()
        else:  # 2.x
            options = {**config.kwargs, "num_warps": config.num_warps, "num_stages": config.num_stages}
        result = self.fn.run(*args, **kwargs, **options)
        self.best_config = config
        return result

    JITFunction.__getitem__ = traced_getitem
    Autotuner.run = run_first_config

if FAST:
    import tritoncompat

    warnings.simplefilter("error", tritoncompat.TritonCompatWarning)  # a silent fallback fails the scenario
    if MODE == "patched" and SCENARIO not in ("decorated_after_patch",):
        tritoncompat.patch()
if GPU:
    assert not torch.cuda.is_initialized(), "the scenario must start before torch touches CUDA"


# Where the launcher tuple holds launch metadata and hooks: no hook is installed in these
# scenarios, so None, an idle HookChain (3.5+) and unused launch metadata are the same launch.
if fake is None:
    HOOK_SLOTS = ()
elif triton.__version__ < "2.2":
    HOOK_SLOTS = (7, 8)
elif triton.__version__ < "3":
    HOOK_SLOTS = (11, 12)
else:
    HOOK_SLOTS = (6, 7, 8)


def normal_call(call):
    return [("idle" if i in HOOK_SLOTS and (v is None or type(v).__name__ in ("HookChain", "LazyDict")) else normal(v))
            for i, v in enumerate(call)]


def digest(tensor):
    return [hashlib.sha1(tensor.cpu().contiguous().numpy().tobytes()).hexdigest(), float(tensor.sum())]


def normal(value):
    """A launcher argument, comparable across processes (pointers differ, everything else must not)."""
    if isinstance(value, (tuple, list)):
        return [normal(v) for v in value]
    if hasattr(value, "data_ptr"):
        return ["tensor", str(value.dtype), list(value.shape), value.data_ptr() % 16]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    return ["object", type(value).__name__]


def kernel(name):
    """The kernel ``name``, decorated now (each decorator runs only when its kernel is asked for:
    3.2's Autotuner reads the driver when it is made, which the interpreter scenario has not)."""
    if name == "axpb":
        return _axpb()
    if name == "tuned":
        return _tuned()
    return _heuristic()


def _axpb():
    @triton.jit
    def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr = 128):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * alpha + k, mask=m)

    return axpb


def _tuned():
    @triton.autotune(configs=[triton.Config({"BLOCK": 64}, num_warps=2), triton.Config({"BLOCK": 128}, num_warps=4)],
                     key=["n"])
    @triton.jit
    def tuned(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * 2.0, mask=m)

    return tuned


def _heuristic():
    @triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
    @triton.jit
    def heuristic(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        if EVEN:
            tl.store(out_ptr + offs, tl.load(x_ptr + offs) + 1.0)
        else:
            m = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1.0, mask=m)

    return heuristic


def go(kernel, grid, *args, **kwargs):
    """One launch the way MODE launches."""
    if MODE == "launch":
        return tritoncompat.launch(kernel, grid, *args, **kwargs)
    return kernel[grid](*args, **kwargs)


def cdiv(a, b):
    return (a + b - 1) // b


def inputs(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g).to(DEVICE)
    return x, torch.zeros(n, device=DEVICE)


def scenario(outs):
    """Run SCENARIO; append every output tensor to ``outs``."""
    n = 1000
    if SCENARIO in ("patched_first", "launch_first", "patch_at_import", "interpreter_first"):
        k = kernel("axpb")
        x, out = inputs(n)
        for i in range(3):
            go(k, lambda m: (cdiv(n, m["BLOCK"]),), x, out, n, 3 + 2 * i, 2.5)
            outs.append(out.clone())
    elif SCENARIO == "library_patched_first":
        k, tuned = kernel("axpb"), kernel("tuned")
        x, out = inputs(n)
        for i in range(3):
            go(k, (8,), x, out, n, 3 + 2 * i, 0.5, BLOCK=128)
            outs.append(out.clone())
            go(tuned, lambda m: (cdiv(n, m["BLOCK"]),), x, out, n)
            outs.append(out.clone())
        extra["library_calls"] = list(LIBRARY_CALLS)
    elif SCENARIO == "autotuned_first":
        k = kernel("tuned")
        x, out = inputs(n)
        for _ in range(3):
            go(k, lambda m: (cdiv(n, m["BLOCK"]),), x, out, n)
            outs.append(out.clone())
    elif SCENARIO == "heuristics_first":
        k = kernel("heuristic")
        for size in (1024, 1000, 1024):
            x, out = inputs(size)
            go(k, (cdiv(size, 128),), x, out, size, BLOCK=128)
            outs.append(out.clone())
    elif SCENARIO in ("decorated_before_patch", "decorated_after_patch"):
        k = kernel("axpb")  # decorated before patch() for the first (patched at start-up) ...
        if SCENARIO == "decorated_after_patch":
            if MODE == "patched":
                tritoncompat.patch()
            k = kernel("axpb")  # ... after it for the second
        x, out = inputs(n)
        for i in range(3):
            go(k, (8,), x, out, n, 3 + 2 * i, 0.5, BLOCK=128)
            outs.append(out.clone())
    elif SCENARIO == "placement_first":
        k = kernel("axpb")
        x, out = inputs(n)
        device = torch.cuda.device_count() - 1 if GPU else 1
        if GPU:
            x, out = x.to(f"cuda:{device}"), out.to(f"cuda:{device}")
            stream = torch.cuda.Stream(device=device)
        for i in range(3):
            if MODE == "native":  # Triton's own launch under the same current device and stream
                if GPU:
                    with torch.cuda.device(device), torch.cuda.stream(stream):
                        k[(8,)](x, out, n, 3 + 2 * i, 2.0)
                else:
                    fake.run(lambda: k[(8,)](x, out, n, 3 + 2 * i, 2.0), device, 0xABC, None)
            elif MODE == "launch":
                tritoncompat.launch(k, (8,), x, out, n, 3 + 2 * i, 2.0, stream=stream if GPU else 0xABC, device=device)
            else:  # patched kernel[grid] has no stream=/device=: launch() is the way for it too
                with tritoncompat.patched():
                    tritoncompat.launch(k, (8,), x, out, n, 3 + 2 * i, 2.0, stream=stream if GPU else 0xABC, device=device)
            if GPU:
                stream.synchronize()
            outs.append(out.clone())
    elif SCENARIO == "fork_child":
        import multiprocessing

        k = kernel("axpb")
        x, out = inputs(n)
        go(k, (8,), x, out, n, 3, 0.5)  # the parent launches first
        go(k, (8,), x, out, n, 5, 0.5)
        outs.append(out.clone())
        child_result = RESULT + ".child"

        def child():
            result = {"error": None, "calls": [], "outs": []}
            try:
                if fake is not None:
                    fake.calls.clear()
                y, z = inputs(n, seed=1)
                for i in range(2):
                    go(k, (8,), y, z, n, 7 + 2 * i, 3.0)
                    result["outs"].append(digest(z))
            except BaseException as exc:  # the outcome is what is compared
                result["error"] = [type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ""]
            if fake is not None:
                result["calls"] = [normal_call(c) for c in fake.calls]
            if FAST:
                result["hits"] = tritoncompat.cache_info().hits
            with open(child_result, "w") as f:
                json.dump(result, f)

        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join(120)
        with open(child_result) as f:
            extra["child"] = json.load(f)
        extra["child"]["exitcode"] = process.exitcode
    else:
        raise SystemExit(f"unknown scenario {SCENARIO}")


extra = {}
outs = []
error = None
try:
    scenario(outs)
    if GPU:
        torch.cuda.synchronize()
except BaseException as exc:
    error = [type(exc).__name__, str(exc)]
    traceback.print_exc()
result = {
    "scenario": SCENARIO, "mode": MODE, "gpu": GPU, "error": error, **extra,
    "outs": [digest(o) for o in outs],
    "calls": [normal_call(c) for c in fake.calls] if fake is not None else None,
}
if FAST:
    info = tritoncompat.cache_info()
    result.update(hits=info.hits, misses=info.misses, fallbacks=dict(info.fallbacks))
with open(RESULT, "w") as f:
    json.dump(result, f)
