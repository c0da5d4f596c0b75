"""``python -m tritoncompat [COMMAND]``: the main job (no command), ``report``, ``bench``, ``run``; ``--help``
lists them, each with its options.

With no argument: report what was found (Python, torch, Triton, the backend, whether the fast
path is active) and run the self-check: launch a kernel natively and through the fast path and
verify both agree, on the GPU if there is one, otherwise with Triton compiling for real and a
fake CUDA driver recording the launcher's arguments (or, with ``TRITON_INTERPRET=1``, through
Triton's interpreter, which is always Triton's own path).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import sys
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import tritoncompat

from . import __version__, _doctor, _launch, _migrate

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
    return failures (empty: ok). Never raises: an exception is a failure, a verdict with its reason."""
    try:
        return _self_check()
    except Exception as exc:
        return [f"the self-check raised {type(exc).__name__}: {exc}"]


def _self_check() -> List[str]:
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
    from .testing import fake_libcuda

    problem = fake_libcuda.supported()
    if problem:
        DRIVER_CHECK.append(f"at the driver: skipped ({problem})")
        return []
    try:
        return _driver_check()
    except _NotRun as exc:  # the machine, not tritoncompat: say so, and why
        DRIVER_CHECK.append(f"at the driver: not run ({exc})")
        return []


class _NotRun(Exception):
    """A step of the self-check that this machine cannot run (a compiler that fails, ...)."""


def _driver_check() -> List[str]:
    import torch

    from .testing import FakeCuda

    failures: List[str] = []
    fake = FakeCuda(real_launcher=True)
    try:
        fake.install()
    except Exception as exc:
        raise _NotRun(f"the fake libcuda: {str(exc).splitlines()[0]}") from exc
    try:
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

        try:
            native = last(lambda: kernel[grid](x, y, out, n, 2.0, 0.5))
        except Exception as exc:  # Triton's own launch: its launcher's build (CC), ...
            raise _NotRun(f"Triton's own launch raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                          ) from exc
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
    finally:
        fake.uninstall()
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


# ---------------------------------------------------------------------------------------------
# The commands: one entry each in COMMANDS (below), with its one-line help, the function that runs
# it (gets the parsed arguments, returns the exit code), and either a function adding its options
# to its argparse subparser or ``passthrough=True`` for a command that parses its own arguments
# (``args.argv``: everything after the command's name, untouched). Adding one is two steps:
#
#     def _cmd_doctor(args: argparse.Namespace) -> int:
#         from . import _doctor  # a lazy import: add ("__main__", "_doctor") to tests/test_structure.py's LAZY
#
#         return _doctor.main(args.argv)
#
#     COMMANDS = {..., "doctor": Command("one line for --help", _cmd_doctor, passthrough=True)}
#
# A command whose module imports Triton or torch imports it inside its function, so that `report`
# and `--help` work without either.


def _cmd_check(args: argparse.Namespace) -> int:
    """The main job: report, then the self-check."""
    # The self-check's fast hits are also checked against Triton's own key computation.
    os.environ.setdefault("TRITONCOMPAT_VERIFY", "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = _print_report()
        mode = "GPU" if info["gpu"] else ("interpreter" if _interpret() else "CPU fake driver")
        failures = self_check() if info["triton"] is not None else None
    if failures is None:
        print("self-check: skipped (triton is not installed)")
    elif failures:
        print(f"self-check ({mode}): FAILED")
        for failure in failures:
            print(f"  - {failure}")
    else:
        print(f"self-check ({mode}): ok: native, launch() and patched launches agree")
        print(f"self-check ({mode}): {describe_cache_info(tritoncompat.cache_info(), fake=mode == 'CPU fake driver')}")
        for line in DRIVER_CHECK:
            print(f"self-check ({mode}): {line}")
    _print_warnings(caught)
    return 0 if failures == [] else 1


def _cmd_report(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _print_report()
    _print_warnings(caught)
    return 0


def _bench_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--fake", action="store_true",
                        help="no GPU: Triton compiles for real, launches stop at a fake launcher (host-side part only)")
    parser.add_argument("--decode", action="store_true",
                        help="steps/s of a host-bound decode step end to end (GPU only)")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also draw the table as a bar chart per kernel (needs matplotlib)")


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import _bench  # imports Triton: `report` works without it

    if args.decode:
        if args.plot:
            print("tritoncompat bench: --plot draws the launch table; --decode has none", file=sys.stderr)
            return 2
        return _bench.main(["--decode"] + (["--json"] if args.json else []))
    if args.plot and _matplotlib_problem():
        print(f"tritoncompat bench --plot: {_matplotlib_problem()}", file=sys.stderr)
        return 2
    results = _bench.run(fake=args.fake)
    print(json.dumps(results, indent=2, default=str) if args.json else _bench.format_table(results))
    if args.plot:
        plot(results, args.plot)
        print(f"tritoncompat bench: wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


_RUN_USAGE = "python -m tritoncompat run [-h] [--cache-info] (SCRIPT | -m MODULE) [ARGS ...]"
_RUN_HELP = """\
Patch every kernel[grid](...) in the process (tritoncompat.patch()), then run the program exactly
as `python SCRIPT ARGS` or `python -m MODULE ARGS` would: the same sys.argv, __main__, sys.path[0]
and exit code. Everything after SCRIPT (or -m MODULE) goes to the program. Try tritoncompat on an
application (a serving engine, a training script) without editing it.

options:
  -h, --help     show this help message and exit
  --cache-info   at exit, print tritoncompat.cache_info() to stderr (hits, misses, fallbacks)"""


def _cmd_run(args: argparse.Namespace) -> int:
    """``run``: patch, then become ``python SCRIPT`` / ``python -m MODULE``."""
    cache_info, target, program_args = False, None, []
    argv = args.argv
    for i, arg in enumerate(argv):
        if arg in ("-h", "--help"):
            print(f"usage: {_RUN_USAGE}\n\n{_RUN_HELP}")
            return 0
        if arg == "--cache-info":
            cache_info = True
        elif arg == "-m" or (arg.startswith("-m") and len(arg) > 2):  # python accepts -mMODULE too
            name = arg[2:] or (argv[i + 1] if i + 1 < len(argv) else None)
            if name is None:
                return _run_usage("-m needs a MODULE")
            target, program_args = ("module", name), argv[i + (1 if arg[2:] else 2):]
            break
        elif arg == "--":
            if i + 1 >= len(argv):
                return _run_usage("a SCRIPT or -m MODULE is required")
            target, program_args = ("script", argv[i + 1]), argv[i + 2:]
            break
        elif arg.startswith("-") and arg != "-":
            return _run_usage(f"unrecognized option {arg!r} (options for the program go after SCRIPT)")
        else:
            target, program_args = ("script", arg), argv[i + 1:]
            break
    if target is None:
        return _run_usage("a SCRIPT or -m MODULE is required")
    if not tritoncompat.patch():
        print(f"tritoncompat run: the fast path is off ({_launch.status()['reason']}); the program runs with "
              "Triton's own launches", file=sys.stderr)
    if cache_info:
        atexit.register(_print_cache_info)  # registered first: runs after the program's own handlers
    return run_program(*target, program_args)


def _run_usage(problem: str) -> int:
    print(f"usage: {_RUN_USAGE}\ntritoncompat run: error: {problem}", file=sys.stderr)
    return 2


class Command(NamedTuple):
    help: str
    run: Callable[[argparse.Namespace], int]
    options: Optional[Callable[[argparse.ArgumentParser], None]] = None
    passthrough: bool = False  # the command parses its own arguments: args.argv


# Every subcommand, in the order --help lists them. The main job ("check") runs without one.
COMMANDS: Dict[str, Command] = {
    "check": Command("report, then the self-check (the default: `python -m tritoncompat`)", _cmd_check),
    "report": Command("report what was found (Python, torch, Triton, backend, accelerator); needs no Triton",
                      _cmd_report),
    "bench": Command("host cost per launch: native, launch(), patched, floor, driver", _cmd_bench, _bench_options),
    "run": Command("patch(), then run SCRIPT or -m MODULE as python would (see run --help)", _cmd_run,
                   passthrough=True),
    "doctor": Command("does tritoncompat's model still match the installed Triton? fingerprints, probes, verdict",
                      lambda args: _doctor.main(args.argv), passthrough=True),
    "migrate": Command("rewrite tl.make_block_ptr / tl.advance (and their loads and stores) to tritoncompat.language",
                       lambda args: _migrate.main(args.argv), passthrough=True),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m tritoncompat",
        description="tritoncompat: fast, verified, version-stable Triton kernel launches. Without a command: "
                    "report what was found and run the self-check.",
        epilog="Report bugs with the output of `python -m tritoncompat report`.")
    top.add_argument("--version", action="version", version=f"tritoncompat {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, command in COMMANDS.items():
        if command.passthrough:
            sub.add_parser(name, help=command.help, add_help=False)
            continue
        sub_parser = sub.add_parser(name, help=command.help, description=command.help)
        if command.options:
            command.options(sub_parser)
    return top


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS and COMMANDS[argv[0]].passthrough:
        return COMMANDS[argv[0]].run(argparse.Namespace(command=argv[0], argv=argv[1:]))
    args = parser().parse_args(argv)  # an unknown command or option: usage line, exit 2
    return COMMANDS[args.command or "check"].run(args)


def _interpret() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "yes", "on", "y")


def imported_from() -> str:
    """Which tritoncompat this process imported, and whether that is a source checkout (a
    ``setup.cfg`` beside the package) rather than an installed copy."""
    package = os.path.dirname(os.path.abspath(tritoncompat.__file__))
    checkout = os.path.isfile(os.path.join(os.path.dirname(package), "setup.cfg"))
    return package + (" (a source checkout, not an installed copy: `python -I -m tritoncompat` keeps the current "
                      "directory off the path)" if checkout else "")


def _print_report() -> Dict[str, Any]:
    info = report()
    info["package"] = imported_from()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return info


def _print_warnings(caught: List[warnings.WarningMessage]) -> None:
    """Warnings raised by torch, Triton (or tritoncompat) during the main job: each once, after
    the job's own lines, under one heading, instead of interleaved with them."""
    seen: Dict[Any, int] = {}
    for w in caught:
        key = (w.category.__name__, str(w.message))
        seen[key] = seen.get(key, 0) + 1
    if not seen:
        return
    print("warnings raised while running (by torch, Triton or tritoncompat; each shown once):")
    for (category, message), count in seen.items():
        first, *rest = message.strip().splitlines() or [""]
        print(f"  {category}: {first}" + (f" (x{count})" if count > 1 else ""))
        for line in rest:
            print(f"    {line}")


# Reasons the CPU self-check's fake driver makes Triton's launcher stay: expected there, a real
# hand-off on a GPU.
_EXPECTED_UNDER_FAKE = ("launcher is not Triton's CudaLauncher",)


def describe_cache_info(info: Any, fake: bool = False) -> str:
    """``cache_info()`` in words: the counters, with hand-offs that the fake driver causes on
    purpose said to be expected rather than listed as if something went wrong."""
    text = f"fast path: {info.hits} hits, {info.misses} misses, {info.entries} entries"
    if info.fallbacks:
        text += "; through Triton's own path: " + ", ".join(f"{r} ({n})" for r, n in info.fallbacks.items())
    own = getattr(info, "own", 0)
    handoffs = dict(getattr(info, "handoffs", {}) or {})
    expected = {r: handoffs.pop(r) for r in list(handoffs) if fake and r in _EXPECTED_UNDER_FAKE}
    if own:
        text += f"; the own launch serves {own} compiled kernel(s)"
    if handoffs:
        text += "; Triton's launcher kept: " + ", ".join(f"{r} ({n})" for r, n in handoffs.items())
    if expected:
        text += ("; Triton's launcher kept, as expected under the fake driver (its launcher is a recorder, "
                 "not Triton's CudaLauncher)")
    return text


def _print_cache_info() -> None:
    sys.stdout.flush()
    print(f"tritoncompat: {tritoncompat.cache_info()}", file=sys.stderr)


def run_program(kind: str, target: str, args: List[str]) -> int:
    """Run a script (``kind == "script"``) or a module (``"module"``) as ``python SCRIPT ARGS`` /
    ``python -m MODULE ARGS`` would, in this process: a fresh ``__main__`` module, ``sys.argv``,
    ``sys.path[0]``. The program's ``SystemExit`` propagates (its exit code is the process's);
    an uncaught exception goes to ``sys.excepthook`` without this function's frames, exit code 1."""
    import runpy
    import types

    main_module = types.ModuleType("__main__")
    if kind == "module":
        sys.argv = ["-m", *args]  # argv[0] becomes the module's file, as under -m
        sys.path[0] = os.getcwd()
        sys.modules["__main__"] = main_module
        return _call_program(lambda: runpy._run_module_as_main(target, alter_argv=True))  # what `python -m` calls
    sys.argv = [target, *args]
    if os.path.isdir(target) or (os.path.isfile(target) and _is_zip(target)):
        sys.path[0] = target  # a directory or zip file with __main__.py: python puts it first
        return _call_program(lambda: runpy.run_path(target, run_name="__main__"))
    path = target if os.path.isabs(target) else os.path.join(os.getcwd(), target)  # not normalised, as python
    try:
        with open(path, "rb") as f:  # io.open_code is what python uses; same bytes
            source = f.read()
    except OSError as exc:
        print(f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}", file=sys.stderr)
        return 2
    sys.path[0] = os.path.dirname(os.path.realpath(path))  # python resolves a symlinked script's directory
    main_module.__file__ = path  # absolute since Python 3.9 (bpo-20443)
    main_module.__builtins__ = __builtins__
    main_module.__cached__ = None
    sys.modules["__main__"] = main_module
    code = compile(source, path, "exec", dont_inherit=True)
    return _call_program(lambda: exec(code, main_module.__dict__))


def _is_zip(path: str) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)


def _call_program(go: Callable[[], Any]) -> int:
    try:
        go()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename in (__file__, _runpy_file()):
            tb = tb.tb_next
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)  # the hook prints exc.__traceback__
        return 1
    return 0


def _runpy_file() -> str:
    import runpy

    return runpy.__file__


def _matplotlib_problem() -> Optional[str]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ("needs matplotlib, which is not installed (it is optional: `pip install matplotlib`, or "
                "`pip install tritoncompat[plot]`)")
    return None


# The columns of the picture: Triton's own launch, tritoncompat's two, and the two floors.
PLOT_COLUMNS = ("native", "launch", "patched", "floor", "driver")


def plot(results: Dict[str, Any], path: str) -> None:
    """The bench table as a bar chart: one panel per kernel, one bar per column (median host us
    per launch, the min as a tick), written to ``path`` (any format matplotlib knows)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    cases = list(results["cases"].items())
    fig, axes = plt.subplots(1, len(cases), figsize=(4.5 * len(cases), 4), squeeze=False)
    colors = {"native": "#999999", "launch": "#1f77b4", "patched": "#2ca02c", "floor": "#ff7f0e", "driver": "#d62728"}
    for ax, (label, case) in zip(axes[0], cases):
        t = case["timings"]
        names = [n for n in PLOT_COLUMNS if n in t]
        medians = [t[n]["median_us"] for n in names]
        bars = ax.bar(names, medians, color=[colors[n] for n in names])
        ax.scatter(names, [t[n]["min_us"] for n in names], marker="_", color="black", s=200, zorder=3)
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
        ax.set_title(f"{label}")
        ax.set_ylabel("host us per launch (median; tick: min)")
        ax.set_ylim(0, max(medians) * 1.18)
    fig.suptitle(f"tritoncompat bench: {results['machine']}; triton {results['triton']}, torch {results['torch']}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
