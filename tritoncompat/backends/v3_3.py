"""Backend for Triton 3.3.0 - 3.9.0.

One JIT-level launcher call for the whole range::

    kernel.run(gx, gy, gz, stream, kernel.function, kernel.packed_metadata,
               launch_metadata, enter_hook, exit_hook, *every_parameter)

and ``fn.device_caches[device][0]`` is always Triton's ``{str key: CompiledKernel}`` dict.
What differs inside the range is probed once, on objects, when this module is imported:

* the values ``JITFunction.run`` injects into the options before keying (``debug`` on every
  release, read from the environment on 3.3 and from ``knobs`` on 3.4+;
  ``instrumentation_mode`` from 3.6; ``fpsan_homomorphic_casts`` on 3.9) are copied from
  ``run``'s own source lines and evaluated the same way on every launch;
* launch hooks: ``CompiledKernel`` class attributes (3.3), ``knobs.runtime`` (3.4),
  ``HookChain`` objects (3.5+, idle when their ``.calls`` are empty);
* ``DriverConfig.active``: a plain attribute (3.3-3.4) or a property over ``_active`` (3.5+);
* ``knobs.runtime.add_stages_inspection_hook`` (3.7+) sends launches native while set.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from functools import partial
from typing import Any, Dict, List, Tuple

import triton
from triton.compiler.compiler import CompiledKernel
from triton.runtime.driver import driver as _driver_config
from triton.runtime.jit import JITFunction

from .. import _cache, _codegen
from . import _common
from ._common import INT_CODE, Stale, Unsupported

try:  # 3.4+
    from triton import knobs as _knobs
except ImportError:  # 3.3
    _knobs = None

NAME = "v3_3"

# Where things sit in the launcher's positional arguments (tests compare calls slot by slot):
# (gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter, exit, *params).
LAUNCHER_LAYOUT = {"stream_slot": 3, "function_slot": 4, "hook_slots": (6, 7, 8), "args_slot": 9}

# Triton's own run, taken from the class before tritoncompat.patch() can replace it.
_RUN = JITFunction.__dict__["run"]
_RUN_SOURCE = inspect.getsource(_RUN)

# ``kwargs["name"] = <expression>`` lines at the top of run: the injected option values, which
# are part of Triton's key. Re-evaluated on every launch with run's own expressions.
_INJECTED: List[Tuple[str, str]] = re.findall(r'^\s*kwargs\["(\w+)"\] = (.+?)\s*$', _RUN_SOURCE, re.M)
if not _INJECTED or _INJECTED[0][0] != "debug":
    raise ImportError("JITFunction.run does not inject the debug option as 3.3-3.9 do")

# 3.5+: DriverConfig.active is a property over ``_active``; 3.3-3.4: a plain attribute.
_DRIVER_ATTR = "_active" if "_active" in vars(_driver_config) else "active"
# 3.4+: knobs.runtime holds the launch hooks; 3.3: CompiledKernel class attributes.
_HOOKS: Any = _knobs.runtime if _knobs is not None else CompiledKernel
# 3.5+: hooks are HookChain objects, idle when both have no calls.
_HOOK_CHAINS = _knobs is not None and type(_knobs.runtime.launch_enter_hook).__name__ == "HookChain"
# 3.7+: a custom pipeline hook adds to the key; such launches go native.
_STAGES_HOOK = "add_stages_inspection_hook" in _RUN_SOURCE
# 3.6+: instrumented builds (GSan, profilers) go native. The injected values close the fast
# key, so this is the (negative) index of instrumentation_mode in it.
_INJECTED_NAMES = [name for name, _ in _INJECTED]
_INSTRUMENTATION_INDEX = (_INJECTED_NAMES.index("instrumentation_mode") - len(_INJECTED)
                          if "instrumentation_mode" in _INJECTED_NAMES else None)


def describe() -> str:
    injected = ", ".join(name for name, _ in _INJECTED)
    hooks = "HookChain" if _HOOK_CHAINS else ("knobs.runtime" if _knobs is not None else "CompiledKernel")
    return f"v3_3 (triton {triton.__version__}): injected options [{injected}], hooks via {hooks}"


def is_kernel(obj: Any) -> bool:
    return type(obj) is JITFunction


def native(kernel: Any, grid: Any, args: tuple, kwargs: dict) -> Any:
    return _RUN(kernel, *args, grid=grid, warmup=False, **kwargs)


def _driver_functions() -> Tuple[Any, Any, Any]:
    """The active driver and its device/stream functions, as Triton calls them per launch."""
    drv = getattr(_driver_config, _DRIVER_ATTR)
    get_device = drv.get_current_device
    torch = sys.modules.get("torch")
    if torch is not None and get_device is getattr(torch.cuda, "current_device", None):
        # torch.cuda.current_device() is _lazy_init() + _cuda_getDevice(); a hit only happens
        # after a native launch initialised CUDA, so the C function alone is the same read.
        get_device = torch._C._cuda_getDevice
    return drv, get_device, drv.get_current_stream


def build(kernel: Any, *, verify: bool, max_entries: int) -> Any:
    """Generate the fast launcher of ``kernel`` (see the module docstring)."""
    params = list(inspect.signature(kernel.fn).parameters.values())
    names = [p.name for p in params]
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return build_forwarder(kernel, "keyword-only or variadic kernel parameters")
    if not _codegen.safe_param_names(names):
        return build_forwarder(kernel, "parameter names clash with generated names")

    cache = _cache.KernelCache(kernel.fn.__qualname__, max_entries)
    drv, get_device, get_stream = _driver_functions()
    ns: Dict[str, Any] = {
        "_tc_fn": kernel, "_tc_cache": cache, "_tc_entries_get": cache.entries.get,
        "_tc_hit": cache.hits.__next__, "_tc_driver_config": _driver_config, "_tc_driver": drv,
        "_tc_get_device": get_device, "_tc_get_stream": get_stream, "_tc_hooks": _HOOKS,
        "_tc_Tensor": _common.tensor_type(), "_tc_FLOAT": _common.FLOAT, "_tc_Stale": Stale,
        "_tc_value_key": _common.value_key, "_tc_constexpr_key": _common.constexpr_key,
        "_tc_options_key": _common.options_key, "_tc_check_globals": _common.check_globals,
        "os": os, "knobs": _knobs,
    }
    state = _State(kernel, cache, verify)
    ns["_tc_slow"] = state.slow
    ns["_tc_verify"] = state.verify

    sig = []
    for p in params:
        if p.default is inspect.Parameter.empty:
            sig.append(p.name)
        else:
            ns[f"_tc_default_{p.name}"] = p.default
            sig.append(f"{p.name}=_tc_default_{p.name}")
    constexprs = {p.name for p in kernel.params if p.is_constexpr}
    args = ", ".join(names)
    args_tuple = f"({args},)" if names else "()"

    key = ["_tc_dev"]
    for n in names:
        if n in constexprs:
            key.append(f"{n} if type({n}) is int else _tc_constexpr_key({n})")
        else:
            key.append(
                f"(({n}.dtype if not {n}.data_ptr() & 15 else _tc_value_key({n}, _tc_Tensor, True))"
                f" if type({n}) is _tc_Tensor else {INT_CODE.format(v=n)} if type({n}) is int"
                f" else _tc_FLOAT if type({n}) is float else _tc_value_key({n}, _tc_Tensor, True))")
    key.append("_tc_options_key(_tc_options) if _tc_options else ()")
    for _, expr in _INJECTED:
        key.append(expr.replace("kwargs.", "_tc_options.").replace("self.", "_tc_fn."))

    go_native = ["_tc_fn.pre_run_hooks"]
    if _STAGES_HOOK:
        go_native.append("_tc_hooks.add_stages_inspection_hook is not None")
    if _INSTRUMENTATION_INDEX is not None:
        go_native.append(f"_tc_key[{_INSTRUMENTATION_INDEX}]")

    if _HOOK_CHAINS:
        hooks = ["_tc_enter = _tc_hooks.launch_enter_hook",
                 "_tc_exit = _tc_hooks.launch_exit_hook",
                 "_tc_idle = not (_tc_enter.calls or _tc_exit.calls)"]
    else:
        hooks = ["_tc_enter = _tc_hooks.launch_enter_hook",
                 "_tc_exit = _tc_hooks.launch_exit_hook",
                 "_tc_idle = _tc_enter is None and _tc_exit is None"]
    grid_dict = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    launch_args = ("_tc_grid[0], _tc_grid[1] if _tc_n > 1 else 1, _tc_grid[2] if _tc_n > 2 else 1, "
                   "_tc_stream, _tc_function, _tc_packed")
    trailing = f", {args}" if names else ""

    lines = [
        f"def {kernel.fn.__name__}(_tc_grid, {', '.join(sig + ['**_tc_options'])}):",
        "    try:",
        f"        if _tc_driver_config.{_DRIVER_ATTR} is not _tc_driver:",
        "            raise _tc_Stale",
        "        _tc_dev = _tc_get_device()",
        "        _tc_key = (",
        *[f"            {k}," for k in key],
        "        )",
        "        _tc_entry = _tc_entries_get(_tc_key)",
        *[f"        {h}" for h in hooks],
        "    except Exception as _tc_exc:",
        f"        return _tc_slow(_tc_exc, None, None, _tc_grid, {args_tuple}, _tc_options)",
        f"    if _tc_entry is None or {' or '.join(go_native)}:",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        "    _tc_kernel, _tc_nkey, _tc_dcache, _tc_run, _tc_function, _tc_packed = _tc_entry",
        "    if _tc_fn.device_caches.get(_tc_dev) is not _tc_dcache or _tc_dcache[0].get(_tc_nkey) is not _tc_kernel:",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        "    if _tc_fn.used_global_vals:",
        "        _tc_check_globals(_tc_fn)",
        "    _tc_hit()",
        *([f"    _tc_verify(_tc_kernel, _tc_grid, {args_tuple}, _tc_options)"] if verify else []),
        "    _tc_stream = _tc_get_stream(_tc_dev)",
        "    if callable(_tc_grid):",
        f"        _tc_grid = _tc_grid({grid_dict})",
        "    _tc_n = len(_tc_grid)",
        "    if _tc_idle:",
        f"        _tc_run({launch_args}, None, None, None{trailing})",
        "    else:",
        f"        _tc_run({launch_args}, _tc_kernel.launch_metadata(_tc_grid, _tc_stream{trailing}),"
        f" _tc_enter, _tc_exit{trailing})",
        "    return _tc_kernel",
    ]
    fast = _codegen.make_function(kernel.fn.__name__, lines, ns, f"launcher {kernel.fn.__qualname__} triton-{triton.__version__}")
    state.fast = fast
    return fast


class _State:
    """The slow paths of one kernel's launcher: misses, fallbacks, verification."""

    def __init__(self, kernel: Any, cache: _cache.KernelCache, verify: bool) -> None:
        self.kernel = kernel
        self.cache = cache
        self.verify_on = verify
        self.fast: Any = None

    def slow(self, exc, key, dev, grid, args, options):
        kernel = self.kernel
        if exc is not None:
            return _common_fallback(self, exc, grid, args, options)
        if kernel.pre_run_hooks:
            _cache.count_fallback("pre-run hooks")
            return _RUN(kernel, *args, grid=grid, warmup=False, **options)
        if _STAGES_HOOK and _HOOKS.add_stages_inspection_hook is not None:
            _cache.count_fallback("stages inspection hook")
            return _RUN(kernel, *args, grid=grid, warmup=False, **options)
        if _INSTRUMENTATION_INDEX is not None and key[_INSTRUMENTATION_INDEX]:
            _cache.count_fallback("instrumentation mode")
            return _RUN(kernel, *args, grid=grid, warmup=False, **options)
        return self.miss(key, dev, grid, args, options)

    def miss(self, key, dev, grid, args, options):
        kernel = self.kernel
        cache = self.cache
        with cache.lock:
            compiled = _RUN(kernel, *args, grid=grid, warmup=False, **options)
            cache.misses += 1
            if not isinstance(compiled, CompiledKernel):  # None: a cache hook cancelled; 3.5+ async FutureKernel
                return compiled
            dcache = kernel.device_caches.get(dev)
            if dcache is None:
                return compiled
            nkey = next((k for k, v in dcache[0].items() if v is compiled), None)
            if nkey is None:
                return compiled
            # Strong reference to the CompiledKernel: 3.8+ unloads its module in __del__.
            cache.store(key, (compiled, nkey, dcache, compiled.run, compiled.function, compiled.packed_metadata))
        return compiled

    def verify(self, compiled, grid, args, options):
        native = _RUN(self.kernel, *args, grid=grid, warmup=True, **options)
        if native is not compiled:
            from .._launch import TritonCompatVerifyError

            raise TritonCompatVerifyError(
                f"fast path of {self.kernel!r} picked {compiled!r} but Triton's own key picks {native!r} "
                f"for args {args!r} options {options!r}")


def _common_fallback(state: _State, exc: BaseException, grid, args, options):
    from .._launch import fallback_after_error

    return fallback_after_error(state.kernel, exc, lambda: _RUN(state.kernel, *args, grid=grid, warmup=False, **options))


def build_forwarder(kernel: Any, reason: str) -> Any:
    """A launcher that always goes through Triton's own run, counted under ``reason``."""
    def forward(grid, *args, **kwargs):
        _cache.count_fallback(reason)
        return _RUN(kernel, *args, grid=grid, warmup=False, **kwargs)

    return forward


def patch_targets() -> List[Tuple[Any, str, Any]]:
    from .._launch import bind_error_native, resolve, ATTR

    def run(self, *args, grid, warmup, **kwargs):
        if warmup:
            _cache.count_fallback("warmup")
            return _RUN(self, *args, grid=grid, warmup=warmup, **kwargs)
        try:
            fast = vars(self)[ATTR]
        except KeyError:
            fast = resolve(self)
        try:
            return fast(grid, *args, **kwargs)
        except TypeError as exc:
            if exc.__traceback__.tb_next is not None:  # raised inside, not by binding the call
                raise
        return bind_error_native(self, grid, args, kwargs)

    def __getitem__(self, grid):
        # kernel[grid](...) straight into the fast launcher: no run frame, no kwargs dict.
        try:
            return partial(vars(self)[ATTR], grid)
        except KeyError:
            return partial(resolve(self), grid)

    run.__qualname__ = "JITFunction.run"
    run.__doc__ = _RUN.__doc__
    __getitem__.__qualname__ = "JITFunction.__getitem__"
    return [(JITFunction, "run", run), (JITFunction, "__getitem__", __getitem__)]
