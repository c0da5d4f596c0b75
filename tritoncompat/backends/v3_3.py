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
import re
from typing import Any, Dict, List, Optional, Tuple

import triton
from triton.compiler.compiler import CompiledKernel
from triton.runtime.driver import driver as _driver_config
from triton.runtime.jit import JITFunction

from .. import _codegen
from . import _common, _direct

try:  # 3.4+
    from triton import knobs as _knobs
except ImportError:  # 3.3
    _knobs = None

NAME = "v3_3"
# The compiled accelerator serves this backend's hits (_accel.c).
ACCELERATED = True

# Where things sit in the launcher's positional arguments (tests compare calls slot by slot):
# (gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter, exit, *params).
LAUNCHER_LAYOUT = _common.LAYOUT_3X.as_dict()

# Triton's own run, taken from the class before tritoncompat.patch() can replace it.
_RUN = _common.triton_run(JITFunction)
_RUN_SOURCE = inspect.getsource(_RUN)

# ``kwargs["name"] = <expression>`` lines at the top of run: the injected option values, which
# are part of Triton's key. Re-evaluated on every launch with run's own expressions.
_INJECTED: List[Tuple[str, str]] = re.findall(r'^\s*kwargs\["(\w+)"\] = (.+?)\s*$', _RUN_SOURCE, re.M)
if not _INJECTED or _INJECTED[0][0] != "debug":
    raise ImportError("JITFunction.run does not inject the debug option as 3.3-3.9 do")

# 3.5+: DriverConfig.active is a property over ``_active`` (None until the property creates the
# driver: read only by the per-launch staleness check, after build() read ``active``); 3.3-3.4: a
# plain attribute.
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
_INSTRUMENTATION_INDEX = (2 * (_INJECTED_NAMES.index("instrumentation_mode") - len(_INJECTED))
                          if "instrumentation_mode" in _INJECTED_NAMES else None)  # (value, type) per injected


def describe() -> str:
    injected = ", ".join(name for name, _ in _INJECTED)
    hooks = "HookChain" if _HOOK_CHAINS else ("knobs.runtime" if _knobs is not None else "CompiledKernel")
    return f"v3_3 (triton {triton.__version__}): injected options [{injected}], hooks via {hooks}"


def is_kernel(obj: Any) -> bool:
    return type(obj) is JITFunction


def native(kernel: Any, grid: Any, args: tuple, kwargs: dict) -> Any:
    return _RUN(kernel, *args, grid=grid, warmup=False, **kwargs)


def _driver_functions() -> Tuple[Any, Any, Any]:
    """The active driver and its device/stream functions, as Triton calls them per launch.

    Read through ``driver.active``, as ``JITFunction.run`` reads it: 3.5+ create the driver there
    on first use (``_active`` stays None until then, and the first launch of a process may be
    ours); on 3.3-3.4 it is a ``LazyProxy`` that creates it on its first attribute read."""
    drv = _driver_config.active
    return (drv, *_common.driver_functions(drv))


def build(kernel: Any, *, verify: bool, max_entries: int, sample: Any = None) -> Tuple[Any, Any]:
    """Generate the fast launcher of ``kernel`` (see the module docstring).

    ``sample`` (the first launch's ``(args, kwargs)``) orders each parameter's type tests so the
    type it was first launched with is tested first; every type is still handled.
    """
    # The own launch's model of the release's launcher, read now, in the thread that builds the
    # first launcher (it parses the launcher's source once per process), not on the first miss: a
    # child forked later inherits it instead of parsing source right after the fork.
    _direct.model()
    # 3.3+: do_not_specialize ints are keyed by range class alone (specialize_impl(...,
    # specialize_value=False) in 3.3-3.5's Python, the same in 3.6+'s C++; tests/test_launch.py)
    d = _common.draft(kernel, _INJECTED, sample, max_entries, tuples=True, dns_classes=True)
    if isinstance(d, str):
        return build_forwarder(kernel, d), None
    names, args_tuple, key = d.names, d.args_tuple, d.key
    args = ", ".join(names)
    drv, get_device, get_stream = _driver_functions()
    state = _State(_RUN, kernel, d.cache)
    d.ns.update({
        "_tc_driver_config": _driver_config, "_tc_driver": drv, "_tc_get_device": get_device,
        "_tc_get_stream": get_stream, "_tc_hooks": _HOOKS, "knobs": _knobs,
        "_tc_slow": state.slow, "_tc_verify": state.verify,
    })
    ns, sig = d.ns, d.sig

    go_native = ["_tc_grid is None", "_tc_fn.pre_run_hooks"]  # no grid: Triton's own assertion
    if _STAGES_HOOK:
        go_native.append("_tc_hooks.add_stages_inspection_hook is not None")
    if _INSTRUMENTATION_INDEX is not None:
        go_native.append(f"_tc_key[{_INSTRUMENTATION_INDEX}]")

    hooks = ["_tc_enter = _tc_hooks.launch_enter_hook",
             "_tc_exit = _tc_hooks.launch_exit_hook",
             # 3.5+: HookChains, idle without calls; 3.3-3.4: None when not installed
             "_tc_idle = not (_tc_enter.calls or _tc_exit.calls)" if _HOOK_CHAINS
             else "_tc_idle = _tc_enter is None and _tc_exit is None"]
    grid_dict = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    trailing = f", {args}" if names else ""
    layout = _common.LAYOUT_3X
    idle_call = layout.call_source({**_common.CALL_LOCALS, "launch_metadata": "None", "enter_hook": "None",
                                    "exit_hook": "None"}, trailing)
    hooked_call = layout.call_source({**_common.CALL_LOCALS, "enter_hook": "_tc_enter", "exit_hook": "_tc_exit",
                                      "launch_metadata": f"_tc_kernel.launch_metadata(_tc_grid, _tc_stream{trailing})"},
                                     trailing)

    lines = [
        f"def {kernel.fn.__name__}(_tc_grid, {', '.join(sig + ['**_tc_options'])}):",
        *_common.key_lines(f"_tc_driver_config.{_DRIVER_ATTR} is not _tc_driver", key, args_tuple, hooks),
        f"    if _tc_entry is None or {' or '.join(go_native)}:",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        f"    {layout.unpack_source(_common.ENTRY_LOCALS)}",
        # the entry holds the compiled kernel weakly: dead once Triton dropped it (vLLM deletes entries)
        "    if ((_tc_kernel := _tc_kref()) is None or _tc_fn.device_caches.get(_tc_dev) is not _tc_dcache"
        " or _tc_dcache[0].get(_tc_nkey) is not _tc_kernel):",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        *_common.hit_lines(verify, args_tuple, grid_dict),
        "    if _tc_idle:",
        f"        {idle_call}",
        "    else:",
        f"        {hooked_call}",
        "    return _tc_kernel",
    ]
    fast = _codegen.make_function(kernel.fn.__name__, lines, ns,
                                  f"launcher {kernel.fn.__qualname__} triton-{triton.__version__}")
    return _common.accelerate(fast, kernel, d, len(_INJECTED), True, verify, {
        "native_attr": "device_caches", "nested": True, "instrumentation": _INSTRUMENTATION_INDEX or 0,
        "driver_attr": _DRIVER_ATTR, "hooks": _HOOKS, "hook_chains": _HOOK_CHAINS, "stages_hook": _STAGES_HOOK})


class _State(_common.JitState):
    """3.3-3.9: ``fn.device_caches[dev][0]`` is Triton's dict of the device; pipeline inspection
    hooks (3.7+) and instrumented builds (3.6+) go native."""

    compiled_type = CompiledKernel  # not None (a cache hook cancelled) nor a 3.5+ async FutureKernel

    def native_dicts(self, dev: Any) -> Optional[Tuple[Any, Dict[str, Any]]]:
        dcache = self.kernel.device_caches.get(dev)
        return None if dcache is None else (dcache, dcache[0])

    def native_reason(self, key: Tuple) -> Optional[str]:
        if self.kernel.pre_run_hooks:
            return "pre-run hooks"
        if _STAGES_HOOK and _HOOKS.add_stages_inspection_hook is not None:
            return "stages inspection hook"
        if _INSTRUMENTATION_INDEX is not None and key[_INSTRUMENTATION_INDEX]:
            return "instrumentation mode"
        return None

    def uncacheable(self, compiled: Any) -> Optional[str]:
        # The key models NVIDIA's specialization; AMD's adds a pointer-range letter ("S").
        if compiled.metadata.target.backend != "cuda":
            return "non-CUDA backend"
        return None


def floor(kernel: Any, compiled: Any, grid: Any, args: tuple, kwargs: dict, stream: int) -> Any:
    """The benchmark's floor: the compiled kernel's launcher with prebuilt arguments and no hooks."""
    return _common.floor_3x(kernel, compiled, grid, args, kwargs, stream, launch_constexprs=True)


def build_forwarder(kernel: Any, reason: str) -> Any:
    """A launcher that always goes through Triton's own run, counted under ``reason``."""
    return _common.forwarder(_RUN, kernel, reason)


def patch_targets(fast_launch: Any, resolve: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
    return _common.patch_targets(JITFunction, _RUN, fast_launch, resolve, switch)
