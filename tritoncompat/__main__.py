"""``python -m tritoncompat [report|check|bench [--json] [--fake | --decode]]``.

With no argument: report what was found (Python, torch, Triton, the backend, whether the fast
path is active) and run the self-check: launch a kernel natively and through the fast path and
verify both agree, on the GPU if there is one, otherwise with Triton compiling for real and a
fake CUDA driver recording the launcher's arguments (or, with ``TRITON_INTERPRET=1``, through
Triton's interpreter, which is always Triton's own path).
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Dict, List

import tritoncompat

from . import __version__, _launch

_KERNEL = '''
import triton
import triton.language as tl


@triton.jit
def axpby(x_ptr, y_ptr, out_ptr, n, alpha, beta, BLOCK: tl.constexpr = 128):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, alpha * tl.load(x_ptr + offs, mask=m) + beta * tl.load(y_ptr + offs, mask=m), mask=m)
'''


def report() -> Dict[str, Any]:
    info: Dict[str, Any] = {"tritoncompat": __version__, "python": platform.python_version()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
        info["gpu"] = None
    info.update(_launch.status())
    return info


def _load(source: str, name: str) -> Any:
    import importlib.util
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="tritoncompat-"), f"{name}.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def self_check() -> List[str]:
    """Launch one kernel through ``launch()`` (the process's first launch), patched, then natively;
    return failures (empty: ok)."""
    import torch

    failures: List[str] = []
    interpret = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on", "y")
    gpu = torch.cuda.is_available() and not interpret
    fake = None
    if not gpu and not interpret:
        from .testing import FakeCuda  # imports Triton and torch: only for the CPU self-check

        fake = FakeCuda().install()
    try:
        kernel = _load(_KERNEL, "tritoncompat_selfcheck").axpby
        device = "cuda" if gpu else "cpu"
        n = 1000
        x, y = torch.randn(n, device=device), torch.randn(n, device=device)
        # Real launches write one output each; fake ones are compared by argument identity.
        outs = [torch.zeros(n, device=device) for _ in range(3)] if fake is None else [torch.zeros(n)] * 3
        grid = lambda meta: (triton_cdiv(n, meta["BLOCK"]),)  # noqa: E731
        before = tritoncompat.cache_info()
        calls = [None, None, None]  # native, launch(), patched
        # The process's first launch goes through tritoncompat, as it does for a user whose
        # first kernel call is patched: Triton creates its driver (and torch initialises CUDA)
        # inside our path. Then a hit, a patched hit, and Triton's own launch to compare with.
        for _ in range(2):  # a miss, then a hit
            tritoncompat.launch(kernel, grid, x, y, outs[1], n, 2.0, 0.5)
        calls[1] = fake.calls[-1] if fake else None
        with tritoncompat.patched():
            kernel[grid](x, y, outs[2], n, 2.0, 0.5)
        calls[2] = fake.calls[-1] if fake else None
        kernel[grid](x, y, outs[0], n, 2.0, 0.5)
        calls[0] = fake.calls[-1] if fake else None
        after = tritoncompat.cache_info()
        if gpu or interpret:
            torch.cuda.synchronize() if gpu else None
            expected = 2.0 * x + 0.5 * y
            for name, out in zip(("native", "launch()", "patched"), outs):
                if not torch.allclose(out, expected, atol=1e-5):
                    failures.append(f"{name} launch computed a wrong result")
        else:
            failures += _compare_calls(calls)
        hits = after.hits - before.hits
        if not interpret and tritoncompat._launch.status()["fast_path"] and hits < 2:
            failures.append(f"expected at least 2 fast-path hits, cache_info says {hits}")
    finally:
        if fake is not None:
            fake.uninstall()
    if fake is not None and not failures:
        failures += driver_check()
    return failures


# What the CPU self-check found at the driver (printed by main).
DRIVER_CHECK: List[str] = []


def driver_check() -> List[str]:
    """CPU only: with the fake libcuda, Triton's real launcher and tritoncompat's launches (the own
    launch where the release's launcher is modelled) must hand the driver the same launch, byte for
    byte. Loads the fake libcuda into this process for good: the main job's last step."""
    import torch

    from .testing import FakeCuda, fake_libcuda

    problem = fake_libcuda.supported()
    if problem:
        DRIVER_CHECK.append(f"at the driver: skipped ({problem})")
        return []
    failures: List[str] = []
    with FakeCuda(real_launcher=True) as fake:
        kernel = _load(_KERNEL, "tritoncompat_selfcheck_driver").axpby
        n = 1000
        x, y, out = torch.randn(n), torch.randn(n), torch.zeros(n)
        grid = (triton_cdiv(n, 128),)
        before = tritoncompat.cache_info()

        def last(go):
            fake.libcuda.reset()
            go()
            records = fake.libcuda.launches()
            if len(records) != 1:
                return f"{len(records)} launches"
            rec = dict(records[0])
            rec["attrs"] = [(a["id"], tuple(a["value"])) for a in rec["attrs"]]
            return rec

        def patched():
            with tritoncompat.patched():
                kernel[grid](x, y, out, n, 2.0, 0.5)

        native = last(lambda: kernel[grid](x, y, out, n, 2.0, 0.5))
        got = {"launch() miss": last(lambda: tritoncompat.launch(kernel, grid, x, y, out, n, 2.0, 0.5)),
               "launch() hit": last(lambda: tritoncompat.launch(kernel, grid, x, y, out, n, 2.0, 0.5)),
               "patched hit": last(patched)}
        for name, rec in got.items():
            if rec != native:
                failures.append(f"at the driver: {name} handed the driver {rec}, Triton's launcher {native}")
        after = tritoncompat.cache_info()
        own = after.own - before.own
        how = "the own launch" if own else f"Triton's launcher ({', '.join(after.handoffs) or 'no own launch'})"
        DRIVER_CHECK.append(f"at the driver (fake libcuda, Triton's real launcher): {how} hands the driver the same "
                            f"launch, byte for byte" if not failures else "at the driver: FAILED")
    return failures


def _compare_calls(calls: List[Any]) -> List[str]:
    """The launcher tuples of launch() and patched against the native one, slot by slot:
    tensors by identity, idle hooks and launch metadata modulo None, the rest by type and value."""
    layout = _launch.backend().module.LAUNCHER_LAYOUT if _launch.backend().module else {"hook_slots": ()}
    native = calls[0]
    failures = []
    for name, got in zip(("launch()", "patched"), calls[1:]):
        if len(got) != len(native):
            failures.append(f"{name}: launcher got {len(got)} arguments, Triton's own path {len(native)}")
            continue
        for i, (a, b) in enumerate(zip(got, native)):
            if i in layout["hook_slots"] and (a is None or a is b or type(a) is type(b)):
                continue
            same = a is b if hasattr(b, "data_ptr") else (type(a) is type(b) and a == b)
            if not same:
                failures.append(f"{name}: launcher slot {i} is {type(a).__name__} {a if not hasattr(a, 'data_ptr') else ''}"
                                f", Triton's own path gives {type(b).__name__}")
    return failures


def triton_cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "bench":
        from . import _bench  # imports Triton: `report` works without it

        return _bench.main(argv[1:])
    if command != "report":
        # The self-check's fast hits are also checked against Triton's own key computation.
        os.environ.setdefault("TRITONCOMPAT_VERIFY", "1")
    info = report()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    if command == "report":
        return 0
    if info["triton"] is None:
        print("self-check: skipped (triton is not installed)")
        return 1
    mode = "GPU" if info["gpu"] else ("interpreter" if os.environ.get("TRITON_INTERPRET") else "CPU fake driver")
    failures = self_check()
    if failures:
        print(f"self-check ({mode}): FAILED")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print(f"self-check ({mode}): ok — native, launch() and patched launches agree; {tritoncompat_info()}")
    for line in DRIVER_CHECK:
        print(f"self-check ({mode}): {line}")
    return 0


def tritoncompat_info() -> str:
    return str(tritoncompat.cache_info())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
