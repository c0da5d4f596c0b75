"""Backend for Triton 3.0.0 - 3.2.0.

One JIT-level launcher call for the whole range, with the NON-constexpr arguments only::

    kernel.run(gx, gy, gz, stream, kernel.function, kernel.packed_metadata, launch_metadata,
               CompiledKernel.launch_enter_hook, CompiledKernel.launch_exit_hook, *non_constexpr_args)

and ``fn.cache[device]`` (a ``defaultdict(dict)``) is Triton's ``{str key: CompiledKernel}`` dict.
Triton's key is ``''.join(sig_and_spec) + str((constexpr_vals, excess_kwargs))``, from the binder
``create_function_from_signature`` exec's per kernel: for each non-constexpr argument a type string
(``mangle_type``: ``none``, ``i1``, ``i32``/``u64``/``i64`` by range, ``fp32``, ``*<dtype>``) and,
unless ``do_not_specialize``, a spec letter; then ``str()`` of the constexpr values and of the
option keywords in call order, with ``debug`` injected. The fast key refines it: per argument
:func:`_common.value_key` (dtype and alignment, int ``== 1`` / divisibility / range class, bools by
value, ``None`` by kind), constexprs by type and value, the options exactly as passed, and the
injected ``debug`` value *with its type* (Triton keys on ``str()``: ``True`` and ``1`` differ).

What differs inside the range is probed once, on objects, when this module is imported:

* the ``debug`` option ``run`` injects before keying, copied from ``run``'s own source line and
  evaluated the same way on every launch: ``self.debug`` on 3.0-3.1 (it replaces any ``debug=``
  keyword), ``kwargs.get("debug", False) or os.environ.get("TRITON_DEBUG", "0") == "1"`` on 3.2
  (an environment read per launch, as Triton's own);
* the spec letters: the module-level ``compute_spec_key(v)`` on 3.0-3.1 (``D`` if divisible by
  16, ``1`` if ``== 1`` -- bools too: ``True`` -> ``1``, ``False`` -> ``D`` --, else ``N``); on 3.2
  the backend's ``compute_spec_key(v, align)`` (``D`` only if ``align``, ``None`` counts as
  divisible, ``1`` only for non-bool ints, ``do_not_specialize_on_alignment`` passes
  ``align=False``). The fast key is finer than both. A backend that overrides it (3.2 AMD adds a
  pointer-range letter) is not modelled: such a kernel goes through Triton's own path.

3.2 rebuilds the target and the backend (``make_backend``) on every launch; the fast path does
neither (its key holds the device, as Triton's cache does). Hooks are ``CompiledKernel`` class
attributes; with no enter hook the launcher gets ``None`` metadata, as Triton's
``launch_metadata()`` returns then.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Dict, List, Optional, Tuple

import triton
from triton.backends.compiler import BaseBackend
from triton.compiler.compiler import CompiledKernel
from triton.runtime import jit as _jit
from triton.runtime.driver import driver as _driver_config
from triton.runtime.jit import JITFunction

from .. import _codegen
from . import _common

NAME = "v3_0"
# The compiled accelerator serves this backend's hits (_accel.c).
ACCELERATED = True

# Where things sit in the launcher's positional arguments (tests compare calls slot by slot):
# (gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter, exit, *non_constexpr).
LAUNCHER_LAYOUT = _common.LAYOUT_3X.as_dict()

# Triton's own run, taken from the class before tritoncompat.patch() can replace it.
_RUN = _common.triton_run(JITFunction)
_RUN_SOURCE = inspect.getsource(_RUN)
if "self.cache[device]" not in _RUN_SOURCE or "*non_constexpr_vals)" not in _RUN_SOURCE:
    raise ImportError("JITFunction.run does not key fn.cache[device] and launch the non-constexpr "
                      "arguments as 3.0-3.2 do")

# ``kwargs["name"] = <expression>`` lines of run: the injected option values, which are part of
# Triton's key. Re-evaluated on every launch with run's own expressions.
_INJECTED: List[Tuple[str, str]] = re.findall(r'^\s*kwargs\["(\w+)"\] = (.+?)\s*$', _RUN_SOURCE, re.M)
if [name for name, _ in _INJECTED] != ["debug"]:
    raise ImportError("JITFunction.run does not inject the debug option as 3.0-3.2 do")

# The spec-key functions the fast key refines: 3.0-3.1 jit.compute_spec_key(v); 3.2
# BaseBackend.compute_spec_key(v, align) (AttrsDescriptor.get_property_key), bound to the backend
# of the kernel's first launch.
_SPEC_KEYS = {f for f in (getattr(_jit, "compute_spec_key", None), getattr(BaseBackend, "compute_spec_key", None))
              if f is not None}


def describe() -> str:
    # 3.2: create_function_from_signature(sig, kparams, backend)
    backend = "backend" in inspect.signature(_jit.create_function_from_signature).parameters
    spec = "backend.compute_spec_key(v, align)" if backend else "jit.compute_spec_key(v)"
    return (f"v3_0 (triton {triton.__version__}): injected debug = {_INJECTED[0][1]}; spec letters from {spec}; "
            "hooks via CompiledKernel")


def is_kernel(obj: Any) -> bool:
    return type(obj) is JITFunction


def native(kernel: Any, grid: Any, args: tuple, kwargs: dict) -> Any:
    return _RUN(kernel, *args, grid=grid, warmup=False, **kwargs)


def build(kernel: Any, *, verify: bool, max_entries: int, sample: Any = None) -> Tuple[Any, Any]:
    """The fast launcher of one 3.0-3.2 kernel, generated from its parameter list; ``sample``,
    the first launch's ``(args, kwargs)``, puts each argument's first-seen type test first."""
    # tuples=False: a tuple argument is a TypeError before 3.3
    d = _common.draft(kernel, _INJECTED, sample, max_entries, tuples=False)
    if isinstance(d, str):
        return build_forwarder(kernel, d), None
    names, args_tuple, key, sig = d.names, d.args_tuple, d.key, d.sig
    drv = _driver_config.active  # 3.0-3.2: a plain attribute (a LazyProxy until set_active)
    get_device, get_stream = _common.driver_functions(drv)
    state = _State(_RUN, kernel, d.cache)
    d.ns.update({
        "_tc_driver_config": _driver_config, "_tc_driver": drv, "_tc_get_device": get_device,
        "_tc_get_stream": get_stream, "_tc_CK": CompiledKernel, "_tc_slow": state.slow, "_tc_verify": state.verify,
    })
    ns = d.ns
    regular = [n for n in names if n not in d.constexprs]  # what the launcher takes (3.0-3.2)

    grid_dict = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    values = ", ".join(regular)
    trailing = f", {values}" if regular else ""
    layout = _common.LAYOUT_3X
    # launch_metadata() is None without an enter hook; the hooks are read after the grid, as Triton reads them
    idle_call = layout.call_source({**_common.CALL_LOCALS, "launch_metadata": "None", "enter_hook": "None",
                                    "exit_hook": "_tc_CK.launch_exit_hook"}, trailing)
    hooked_call = layout.call_source({**_common.CALL_LOCALS, "enter_hook": "_tc_enter",
                                      "exit_hook": "_tc_CK.launch_exit_hook",
                                      "launch_metadata": f"_tc_kernel.launch_metadata(_tc_grid, _tc_stream{trailing})"},
                                     trailing)
    go_native = f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)"

    lines = [
        f"def {kernel.fn.__name__}(_tc_grid, {', '.join(sig + ['**_tc_options'])}):",
        *_common.key_lines("_tc_driver_config.active is not _tc_driver", key, args_tuple),
        # grid None: Triton asserts (after its lookup); pre-run hooks: Triton runs them
        "    if _tc_entry is None or _tc_grid is None or _tc_fn.pre_run_hooks:",
        go_native,
        f"    {layout.unpack_source(_common.ENTRY_LOCALS)}",
        # the entry holds the compiled kernel weakly: dead once Triton dropped it (vLLM deletes entries)
        "    if ((_tc_kernel := _tc_kref()) is None or _tc_fn.cache.get(_tc_dev) is not _tc_dcache"
        " or _tc_dcache.get(_tc_nkey) is not _tc_kernel):",
        go_native,
        *_common.hit_lines(verify, args_tuple, grid_dict),
        # Read after the grid, as Triton reads them; launch_metadata() is None without an enter hook.
        "    _tc_enter = _tc_CK.launch_enter_hook",
        "    if _tc_enter is None:",
        f"        {idle_call}",
        "    else:",
        f"        {hooked_call}",
        "    return _tc_kernel",
    ]
    fast = _codegen.make_function(kernel.fn.__name__, lines, ns,
                                  f"launcher {kernel.fn.__qualname__} triton-{triton.__version__}")
    return _common.accelerate(fast, kernel, d, len(_INJECTED), False, verify, {
        "native_attr": "cache", "nested": False, "instrumentation": 0, "driver_attr": "active",
        "hooks": CompiledKernel, "hook_chains": False, "stages_hook": False})


class _State(_common.JitState):
    """3.0-3.2: ``fn.cache[dev]`` is Triton's dict of the device, and its own container."""

    compiled_type = CompiledKernel  # not None: a cache hook cancelled the compile

    def native_dicts(self, dev: Any) -> Optional[Tuple[Any, Dict[str, Any]]]:
        native = self.kernel.cache.get(dev)
        return None if native is None else (native, native)

    def uncacheable(self, compiled: Any) -> Optional[str]:
        # The binder (created by the first native launch) holds the spec-key function.
        spec = self.kernel.binder.__globals__.get("compute_spec_key")
        if getattr(spec, "__func__", spec) not in _SPEC_KEYS:
            return "backend-specific specialization key"
        return None


def floor(kernel: Any, compiled: Any, grid: Any, args: tuple, kwargs: dict, stream: int) -> Any:
    """The benchmark's floor: the compiled kernel's launcher with prebuilt arguments and no hooks."""
    return _common.floor_3x(kernel, compiled, grid, args, kwargs, stream, launch_constexprs=False)


def build_forwarder(kernel: Any, reason: str) -> Any:
    """A launcher that always goes through Triton's own run, counted under ``reason``."""
    return _common.forwarder(_RUN, kernel, reason)


def patch_targets(fast_launch: Any, resolve: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
    return _common.patch_targets(JITFunction, _RUN, fast_launch, resolve, switch)
