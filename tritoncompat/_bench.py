"""``python -m tritoncompat bench``: host cost per launch, measured in one run.

For a 7-argument and a 24-argument kernel: native ``kernel[grid]``, ``tritoncompat.launch``,
patched ``kernel[grid]``, the compiled kernel's own launcher called with prebuilt arguments and
``None`` hooks (the floor from Python), and a CUDA-graph replay (GPU floor, per launch). On a
GPU the GPU is kept busy (``torch.cuda._sleep``) so enqueue cost is measured, never waiting.
Without a GPU (``--fake``), Triton compiles for real and launches stop at a fake launcher: the
host-side part only, labelled as such.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import tritoncompat

from . import _decode, _launch, _slot
from .backends._common import LAYOUT_3X, bound_arguments

__all__ = ["main"]

KERNEL_SOURCE = '''
import triton
import triton.language as tl


@triton.jit
def few_args(x_ptr, y_ptr, out_ptr, n, alpha, beta, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    tl.store(out_ptr + offs, alpha * x + beta * y, mask=m)


@triton.autotune(configs=[triton.Config({"BLOCK": 512}, num_warps=4), triton.Config({"BLOCK": 1024}, num_warps=4)],
                 key=["n"])
@triton.jit
def tuned_args(x_ptr, y_ptr, out_ptr, n, alpha, beta, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    tl.store(out_ptr + offs, alpha * x + beta * y, mask=m)


@triton.jit
def churn_args(x_ptr, out_ptr, n, a, b, c, d, e, f, g, h, i, j, k, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    flags = a + b + c + d + e + f + g + h + i + j + k
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + flags, mask=m)


@triton.jit
def many_args(a_ptr, b_ptr, c_ptr, d_ptr, e_ptr, f_ptr, out_ptr,
              s_a, s_b, s_c, s_d, s_e, s_f, s_out,
              n, m, k, alpha, beta, gamma, delta, eps,
              HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    acc = tl.load(a_ptr + offs * s_a, mask=mask) * alpha + tl.load(b_ptr + offs * s_b, mask=mask) * beta
    acc += tl.load(c_ptr + offs * s_c, mask=mask) * gamma + tl.load(d_ptr + offs * s_d, mask=mask) * delta
    acc += tl.load(e_ptr + offs * s_e, mask=mask) * eps
    if HAS_BIAS:
        acc += tl.load(f_ptr + offs * s_f, mask=mask)
    acc += (m + k).to(tl.float32)
    tl.store(out_ptr + offs * s_out, acc, mask=mask)
'''


def load_kernels() -> Any:
    """The benchmark kernels, from a real file (``@triton.jit`` needs source)."""
    import importlib.util
    import os
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="tritoncompat-bench-"), "tritoncompat_bench_kernels.py")
    with open(path, "w") as f:
        f.write(KERNEL_SOURCE)
    spec = importlib.util.spec_from_file_location("tritoncompat_bench_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(kernels: Any, device: str) -> Dict[str, Any]:
    import torch

    n = 4096
    t = [torch.randn(n, device=device) for _ in range(7)]
    few = (kernels.few_args, (n // 1024,), (t[0], t[1], t[2], n, 0.5, 2.0), {"BLOCK": 1024})
    many = (kernels.many_args, (n // 1024,),
            (*t, 1, 1, 1, 1, 1, 1, 1, n, 3, 5, 0.5, 1.5, 2.5, 3.5, 4.5), {"HAS_BIAS": True, "BLOCK": 1024})
    return {"7 args": few, "24 args": many}


def _floor_call(compiled: Any, kernel: Any, grid: tuple, args: tuple, kwargs: dict, stream: int) -> Callable[[], Any]:
    """The compiled kernel's launcher with prebuilt arguments and no hooks (each backend knows
    its launcher's layout)."""
    return _launch.backend().module.floor(kernel, compiled, grid, args, kwargs, stream)


def _time_batches(fns: Dict[str, Callable[[], Any]], batch: int, rounds: int, busy: Callable[[], None],
                  sync: Callable[[], None], looped: Any = ()) -> Dict[str, Dict[str, float]]:
    """Median and min host us per launch of each variant, in interleaved rounds. A variant named
    in ``looped`` launches ``batch`` times in one call (``fn(batch)``: the driver loop)."""
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    perf = time.perf_counter
    for _ in range(rounds):
        for name, fn in fns.items():  # interleaved: drift hits every variant alike
            busy()
            t0 = perf()
            if name in looped:
                fn(batch)
            else:
                for _ in range(batch):
                    fn()
            samples[name].append((perf() - t0) / batch * 1e6)
            sync()
    return {name: {"median_us": statistics.median(v), "min_us": min(v)} for name, v in samples.items()}


def _own_launch(kernel: Any, grid: tuple, args: tuple, kwargs: dict, stream: int, checked: bool = False) -> Any:
    """``n -> None``: ``n`` own launches of the kernel's hit in a C loop, the arguments converted
    and checked once (the driver itself, per launch), or before each launch (``checked``: the
    context, the conversions and a cuPointerGetAttribute per pointer, as Triton's launcher does);
    None when its hits have no own launch."""
    cache = _slot.cache_of(kernel)
    where = LAYOUT_3X.entry.index("direct")
    directs = [e[where] for e in (cache.entries.values() if cache is not None else ())
               if isinstance(e, tuple) and len(e) > where and e[where] is not None]
    if len(directs) != 1:
        return None
    values = tuple(bound_arguments(kernel, args, kwargs).values())
    g = tuple(grid) + (1,) * (3 - len(grid))
    direct = directs[0]

    def loop(n: int) -> None:
        if direct.loop(g, stream, values, n, checked) != n:
            raise RuntimeError("the driver loop handed off")

    return loop


def _via_triton_launcher(kernels_again: Any, name: str, grid: tuple, args: tuple, kwargs: dict) -> Callable[[], Any]:
    """``launch()`` of a second copy of the kernel whose entries were made with the own launch
    off (TRITONCOMPAT_DIRECT=0): its hits end in Triton's launcher, as before the own launch."""
    import os

    kernel = getattr(kernels_again, name)
    previous = os.environ.get("TRITONCOMPAT_DIRECT")
    os.environ["TRITONCOMPAT_DIRECT"] = "0"
    try:
        tritoncompat.launch(kernel, grid, *args, **kwargs)  # the miss that makes the entry
    finally:
        if previous is None:
            del os.environ["TRITONCOMPAT_DIRECT"]
        else:
            os.environ["TRITONCOMPAT_DIRECT"] = previous
    return lambda: tritoncompat.launch(kernel, grid, *args, **kwargs)


def run(fake: bool = False, batch: int = 400, rounds: int = 12) -> Dict[str, Any]:
    import torch
    import triton

    gpu = torch.cuda.is_available() and not fake
    fake_driver = None
    if not gpu:
        from .testing import FakeCuda  # the CPU fake, only without a GPU

        fake_driver = FakeCuda().install()
    kernels = load_kernels()
    kernels_again = load_kernels()  # the same kernels as other JITFunctions (own launch off)
    device = "cuda" if gpu else "cpu"
    results: Dict[str, Any] = {
        "machine": torch.cuda.get_device_name() if gpu else "CPU, fake driver (host-side part only)",
        "triton": triton.__version__, "torch": torch.__version__, "python": sys.version.split()[0],
        "batch": batch, "rounds": rounds, "cases": {},
    }
    if gpu:
        def busy() -> None:
            torch.cuda._sleep(40_000_000)

        sync = torch.cuda.synchronize
        stream = torch.cuda.current_stream().cuda_stream
    else:
        def busy() -> None:
            pass

        def sync() -> None:
            fake_driver.calls.clear()

        stream = fake_driver.stream
    try:
        for label, (kernel, grid, args, kwargs) in cases(kernels, device).items():
            compiled = kernel[grid](*args, **kwargs)
            tritoncompat.launch(kernel, grid, *args, **kwargs)
            fns: Dict[str, Callable[[], Any]] = {
                "native": lambda: kernel[grid](*args, **kwargs),
                "launch": lambda: tritoncompat.launch(kernel, grid, *args, **kwargs),
                "via triton": _via_triton_launcher(kernels_again, kernel.fn.__name__, grid, args, kwargs),
                "floor": _floor_call(compiled, kernel, grid, args, kwargs, stream),
            }
            loop = _own_launch(kernel, grid, args, kwargs, stream)
            if loop is not None:
                fns["driver"] = loop
                fns["checked"] = _own_launch(kernel, grid, args, kwargs, stream, checked=True)
            timings = _time_batches(fns, batch, rounds, busy, sync, looped=("driver", "checked"))
            with tritoncompat.patched():
                kernel[grid](*args, **kwargs)
                timings.update(_time_batches({"patched": lambda: kernel[grid](*args, **kwargs)},
                                             batch, rounds, busy, sync))
            if gpu:
                timings["graph"] = _graph_replay(kernel, grid, args, kwargs, batch, rounds, busy)
            if label == "7 args":
                results["parts"] = parts = _parts(kernel, grid, args, kwargs, batch, rounds, busy, sync)
                if parts and "checked" in timings:
                    # What Triton's semantics make every hit do, each piece timed alone: read the
                    # device, the stream, the injected options and each tensor, then the checked launch.
                    results["required"] = (sum(parts.get(k, 0.0) for k in ("device", "stream", "injected options",
                                                                             "tensor reads"))
                                           + timings["checked"]["median_us"])
            floor = timings["floor"]["median_us"]
            native = timings["native"]["median_us"]
            results["cases"][label] = {
                "timings": timings,
                "own_launch": loop is not None,
                "launch_over_driver": (timings["launch"]["median_us"] / timings["driver"]["median_us"]
                                       if "driver" in timings else None),
                "launch_over_via_triton": timings["launch"]["median_us"] / timings["via triton"]["median_us"],
                "launch_over_floor": timings["launch"]["median_us"] / floor,
                "patched_over_floor": timings["patched"]["median_us"] / floor,
                "native_over_launch": native / timings["launch"]["median_us"],
                "native_over_patched": native / timings["patched"]["median_us"],
            }
            gc.collect()
        results["autotune"] = _autotune_case(kernels, device, batch, rounds, busy, sync)
        churn = _churn_case(kernels, device, batch, rounds, busy, sync)
        if churn:
            results["churn"] = churn
    finally:
        if fake_driver is not None:
            fake_driver.uninstall()
    results["cache_info"] = tritoncompat.cache_info()._asdict()
    return results


def _parts(kernel, grid, args, kwargs, batch, rounds, busy, sync) -> Dict[str, Any]:
    """What a hit of ``launch()`` spends beyond the floor, piece by piece (3.3+ launchers): the
    device and stream reads Triton does per launch, the injected options, the whole fast key
    (binding, device read, injected options, one item per argument) as the accelerator builds it,
    and a whole hit through the kernel's launcher, in C and in its generated Python launcher
    (both called directly: no ``launch()`` in front)."""
    fast = vars(kernel).get(_launch.ATTR)
    py = getattr(fast, "py", fast)
    ns = getattr(py, "__globals__", {})
    if "_tc_get_device" not in ns:
        return {}
    get_device, get_stream = ns["_tc_get_device"], ns["_tc_get_stream"]
    dev = get_device()
    fns: Dict[str, Callable[[], Any]] = {"empty call": lambda: None, "device": get_device,
                                         "stream": lambda: get_stream(dev)}
    if "_tc_injected" in ns:
        injected = ns["_tc_injected"]
        fns["injected options"] = lambda: injected({})
    tensors = [a for a in args if hasattr(a, "data_ptr")]

    def tensor_reads() -> None:  # what the key reads of each tensor, as Triton's own path reads it
        for t in tensors:
            t.data_ptr()
            t.dtype

    fns["tensor reads"] = tensor_reads
    if hasattr(fast, "key"):
        fns["fast key (C)"] = lambda: fast.key(grid, *args, **kwargs)
        fns["hit in C"] = lambda: fast(grid, *args, **kwargs)
    fns["hit in the Python launcher"] = lambda: py(grid, *args, **kwargs)
    return {name: t["median_us"] for name, t in _time_batches(fns, batch, rounds, busy, sync).items()}


def _autotune_case(kernels, device, batch, rounds, busy, sync) -> Dict[str, Any]:
    """An @triton.autotune kernel (7 args) on a tuning-cache hit: native, launch() and patched
    (through the autotuner memo), against a plain launch() of its kernel with the chosen config."""
    import torch

    n = 4096
    tuner = kernels.tuned_args
    x, y, out = (torch.randn(n, device=device) for _ in range(3))
    args = (x, y, out, n, 0.5, 2.0)

    def grid(meta):
        return (n // meta["BLOCK"],)

    tuner[grid](*args)  # tuned
    config = tuner.best_config
    chosen = config.all_kwargs() if hasattr(config, "all_kwargs") else {  # 3.0+; 2.x:
        "num_warps": config.num_warps, "num_stages": config.num_stages, **config.kwargs}
    tritoncompat.launch(tuner, grid, *args)
    tritoncompat.launch(tuner, grid, *args)
    tritoncompat.launch(tuner.fn, grid, *args, **chosen)
    fns = {
        "native": lambda: tuner[grid](*args),
        "launch": lambda: tritoncompat.launch(tuner, grid, *args),
        "plain": lambda: tritoncompat.launch(tuner.fn, grid, *args, **chosen),
    }
    timings = _time_batches(fns, batch, rounds, busy, sync)
    with tritoncompat.patched():
        tuner[grid](*args)
        timings.update(_time_batches({"patched": lambda: tuner[grid](*args)}, batch, rounds, busy, sync))
    plain = timings["plain"]["median_us"]
    return {"timings": timings, "launch_over_plain": timings["launch"]["median_us"] / plain,
            "patched_over_plain": timings["patched"]["median_us"] / plain,
            "native_over_launch": timings["native"]["median_us"] / timings["launch"]["median_us"]}


def _churn_case(kernels, device, batch, rounds, busy, sync) -> Dict[str, Any]:
    """Many keys, few compiled kernels (3.3+): 11 bool arguments, each launch taking the next of
    their 2**11 = 2048 combinations. Triton keys a bool by its type alone (one compiled kernel);
    tritoncompat's key splits them, and with more live keys than ``TRITONCOMPAT_MAX_ENTRIES``
    (1024) every launch would miss: the kernel steps aside to Triton's own path. native, launch()
    and patched, after 3000 launches of each."""
    import itertools

    import torch

    if _launch.backend().module is None or _launch.backend().module.NAME != "v3_3":
        return {}  # 2.x specialises bools by value (2048 compiled kernels); 3.0 - 3.2 not measured
    kernel = kernels.churn_args
    n = 4096
    x, out = torch.randn(n, device=device), torch.empty(n, device=device)
    combos = [(x, out, n, *values) for values in itertools.product((True, False), repeat=11)]
    grid = (n // 1024,)
    kernel[grid](*combos[0], BLOCK=1024)  # compiled
    cycles = {name: itertools.cycle(combos) for name in ("native", "launch", "patched")}
    fns = {
        "native": lambda: kernel[grid](*next(cycles["native"]), BLOCK=1024),
        "launch": lambda: tritoncompat.launch(kernel, grid, *next(cycles["launch"]), BLOCK=1024),
    }
    before = tritoncompat.cache_info()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "keeps missing": the point of the row
        for _ in range(3000):
            fns["launch"]()
        timings = _time_batches(fns, batch, rounds, busy, sync)
        with tritoncompat.patched():
            patched = lambda: kernel[grid](*next(cycles["patched"]), BLOCK=1024)  # noqa: E731
            for _ in range(3000):
                patched()
            timings.update(_time_batches({"patched": patched}, batch, rounds, busy, sync))
    after = tritoncompat.cache_info()
    native = timings["native"]["median_us"]
    return {"timings": timings, "native_over_launch": native / timings["launch"]["median_us"],
            "native_over_patched": native / timings["patched"]["median_us"],
            "keys": len(combos),
            "misses": after.misses - before.misses, "hits": after.hits - before.hits,
            "stepped_aside": {k: v - before.fallbacks.get(k, 0) for k, v in after.fallbacks.items()
                              if "keeps missing" in k}}


def _graph_replay(kernel, grid, args, kwargs, batch, rounds, busy) -> Dict[str, float]:
    import torch

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        tritoncompat.launch(kernel, grid, *args, **kwargs)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph, stream=stream):
            for _ in range(batch):
                tritoncompat.launch(kernel, grid, *args, **kwargs)
    torch.cuda.synchronize()
    samples = []
    for _ in range(rounds):
        busy()
        t0 = time.perf_counter()
        graph.replay()
        samples.append((time.perf_counter() - t0) / batch * 1e6)
        torch.cuda.synchronize()
    return {"median_us": statistics.median(samples), "min_us": min(samples)}


def format_table(results: Dict[str, Any]) -> str:
    rows = [f"tritoncompat bench: {results['machine']}; triton {results['triton']}, torch {results['torch']}, "
            f"python {results['python']}; host us per launch, median (min) of {results['rounds']} batches "
            f"of {results['batch']}"]
    rows.append("launch / patched: tritoncompat (own launch where the release's launcher is modelled); via triton:"
                " launch() ending in Triton's launcher (own launch off); floor: Triton's launcher, prebuilt"
                " arguments; driver: cuLaunchKernelEx in a C loop, prebuilt parameters; checked: the same"
                " loop redoing Triton's checks (context, conversions, cuPointerGetAttribute) per launch")
    names = ["native", "launch", "patched", "via triton", "floor", "checked", "driver", "graph"]
    header = (f"{'kernel':<9}" + "".join(f"{n:>16}" for n in names)
              + f"{'launch/floor':>14}{'patched/floor':>15}{'launch/driver':>15}{'native/launch':>15}{'native/patched':>16}")
    rows += [header, "-" * len(header)]
    for label, case in results["cases"].items():
        t = case["timings"]
        cells = "".join(f"{t[n]['median_us']:>8.2f} ({t[n]['min_us']:>5.2f})" if n in t else f"{'-':>16}" for n in names)
        over_driver = case.get("launch_over_driver")
        rows.append(f"{label:<9}{cells}{case['launch_over_floor']:>14.3f}{case['patched_over_floor']:>15.3f}"
                    f"{(f'{over_driver:.3f}' if over_driver else '-'):>15}"
                    f"{case['native_over_launch']:>15.2f}{case['native_over_patched']:>16.2f}")
    if results.get("parts"):
        rows.append("7 args, parts of a hit (us): " + ", ".join(f"{k} {v:.2f}" for k, v in results["parts"].items()))
    if results.get("required"):
        launched = results["cases"]["7 args"]["timings"]["launch"]["median_us"]
        rows.append(f"7 args, required work (device + stream + injected options + tensor reads + checked): "
                    f"{results['required']:.2f} us; launch() {launched:.2f} us is {launched / results['required']:.2f}x it")
    tuned = results.get("autotune")
    if tuned:
        t = tuned["timings"]
        rows.append("autotuned (7 args, tuning-cache hit): " + ", ".join(
            f"{n} {t[n]['median_us']:.2f} ({t[n]['min_us']:.2f})" for n in ("native", "launch", "patched", "plain"))
            + f"; launch/plain {tuned['launch_over_plain']:.3f}, patched/plain {tuned['patched_over_plain']:.3f},"
            f" native/launch {tuned['native_over_launch']:.2f}")
    churn = results.get("churn")
    if churn:
        t = churn["timings"]
        rows.append(f"churn (11 bools, {churn['keys']} keys, one compiled kernel): " + ", ".join(
            f"{n} {t[n]['median_us']:.2f} ({t[n]['min_us']:.2f})" for n in ("native", "launch", "patched"))
            + f"; native/launch {churn['native_over_launch']:.2f}, native/patched {churn['native_over_patched']:.2f}"
            f"; {churn['misses']} misses, {churn['hits']} hits, stepped aside {sum(churn['stepped_aside'].values())}")
    return "\n".join(rows)


def main(argv: List[str]) -> int:
    if "--decode" in argv:  # steps/s of a decode step end to end (GPU only): tritoncompat/_decode.py
        return _decode.main([a for a in argv if a != "--decode"])
    fake = "--fake" in argv
    results = run(fake=fake)
    if "--json" in argv:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(format_table(results))
    return 0
