"""Backend for Triton 2.1.0.

2.1 generates each kernel's ``run`` as source text when ``@triton.jit`` runs and keeps it as an
*instance* attribute. A compiled kernel is launched with::

    bin.c_wrapper(gx, gy, gz, bin.num_warps, bin.shared, stream, bin.cu_function,
                  CompiledKernel.launch_enter_hook, CompiledKernel.launch_exit_hook, bin,
                  *non_constexpr_args)

Read off each kernel's generated ``run`` (its ``__globals__`` is the scope 2.1 exec'd it in),
because that is what Triton itself uses:

* the parameter defaults: 2.1 writes ``str(default)`` into the source, so the default Triton
  applies is that text evaluated, not the Python object;
* the functions bound at decoration: ``get_current_device``, ``get_cuda_stream``,
  ``_device_of``, ``_pinned_memory_of``;
* the ``cache`` dict the lookup reads (captured at decoration: reassigning ``fn.cache`` does not
  change what 2.1 looks up).

Triton's key is ``(version_key, sig_key, constexpr_key, spec_key, num_warps, num_stages,
self.debug)`` in ``cache[device]``; the shared generator (``_v2``) refines it.

Unlike Triton, a hit does not call ``torch.cuda.set_device(device)``: 2.1 calls it on every
launch with ``device = torch.cuda.current_device()``, the device that is already current, and
torch returns early when the device does not change (``c10::cuda::SetDevice``). The first launch
of every key on every device goes through Triton's own path, which does call it.

Sent through Triton's own path (counted): ``device=``, ``stream=``, ``device_type=``,
``extern_libs=`` passed explicitly, ``warmup=True``, and every launch of a kernel once Triton
compiled it for a device type other than CUDA/HIP (a third-party backend).

``patch()`` cannot replace ``run`` on the class (the instance attribute shadows it): a data
descriptor does (:class:`._v2.RunOverride`), with ``JITFunction.__getitem__`` going straight to
the fast launcher.
"""

from __future__ import annotations

import inspect
from typing import Any, List, Tuple

import triton
from triton.compiler.compiler import CompiledKernel
from triton.runtime.jit import JITFunction

from .. import _slot
from . import _common, _v2

if "_make_launcher" not in vars(JITFunction):
    raise ImportError("JITFunction has no _make_launcher: not the 2.1 launch path")

NAME = "v2_1"


def _is_generated(run: Any) -> bool:
    """2.1: Triton's generated run (``_make_launcher`` exec'd it, in a scope holding the device
    functions it binds), not a replacement assigned to ``kernel.run``."""
    code = getattr(run, "__code__", None)
    return code is not None and code.co_filename == "<string>" and "_device_of" in getattr(run, "__globals__", {})


# 2.1: JITFunction has no class-level run (None), the instance holds the generated one
_common.generated_run = _is_generated
_common.register_native(None)
_common.register_wrapper_runs()


def _native_run(kernel: Any) -> Any:
    """2.1: the generated run, from the instance ``__dict__``, or where :class:`._v2.RunOverride`
    kept it when ``kernel.run = ...`` replaced it while patched."""
    slots = vars(kernel)
    run = slots["run"]
    return run if _is_generated(run) else slots.get(_slot.TRITON_RUN_ATTR, run)


class _Flavor(_v2.Flavor):
    jit_function = JITFunction
    compiled_type = CompiledKernel
    meta = ("num_warps", "shared")  # 2.1: c_wrapper(gx, gy, gz, num_warps, shared, stream, cu_function, ...)
    int_code = _common.INT_CODE  # 2.1: spec (v % 16 == 0, v == 1) + i32/i64/u64 class
    # 2.1: special keywords of the generated run that are not in its key (extern_libs is, but rare)
    native_options = frozenset({"grid", "warmup", "device", "stream", "device_type", "extern_libs"})

    def parameters(self, kernel: Any) -> List[inspect.Parameter]:
        params = super().parameters(kernel)
        generated = inspect.signature(_native_run(kernel)).parameters
        # 2.1: the default Triton applies is str(default) evaluated in the generated source
        return [p.replace(default=generated[p.name].default)
                if p.default is not p.empty and p.name in generated else p for p in params]

    def unsupported(self, kernel: Any) -> Any:
        if not _is_generated(_native_run(kernel)):  # replaced before patch(): Triton's is out of reach
            return "run replaced"
        return None

    def runtime(self, kernel: Any) -> _v2.Runtime:
        run = _native_run(kernel)
        vars(kernel).setdefault(_slot.TRITON_RUN_ATTR, run)  # the dispatchers' test of a replaced run
        scope = run.__globals__  # 2.1: bound when @triton.jit ran
        get_device, get_stream = _v2.torch_device_functions(scope["get_current_device"], scope["get_cuda_stream"])
        native_cache = scope["cache"]
        return _v2.Runtime(get_device=get_device, get_stream=get_stream, device_of=scope["_device_of"],
                           pinned_of=scope["_pinned_memory_of"], native_cache_expr="_tc_native_cache",
                           native_cache=lambda: native_cache,
                           stale=(f"_tc_fn.__dict__['run'] is not _tc_native_run"  # 2.1: someone replaced run,
                                  f" and _tc_fn.__dict__.get({_slot.TRITON_RUN_ATTR!r}) is not _tc_native_run"),  # not patched
                           namespace={"_tc_native_cache": native_cache, "_tc_native_run": run})

    def launch_entry(self, compiled: Any) -> Tuple[Any, Any, Tuple[Any, ...]]:
        # 2.1: reading c_wrapper loads the module (CompiledKernel.__getattribute__); a miss launched it already
        return compiled.c_wrapper, compiled.cu_function, (compiled.num_warps, compiled.shared)

    def uncacheable(self, compiled: Any) -> Any:
        if compiled.device_type not in ("cuda", "hip"):  # 2.1: third-party backends launch differently
            return f"device type {compiled.device_type}"
        return None

    def triton_run(self, kernel: Any) -> Any:
        return _native_run(kernel)

    def patch_targets(self, fast_launch: Any, resolve: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
        (owner, name, run), getitem = super().patch_targets(fast_launch, resolve, switch)
        return [(owner, name, _v2.RunOverride(run)), getitem]  # 2.1: run is an instance attribute


FLAVOR = _Flavor()

# Where things sit in the launcher's positional arguments (tests compare calls slot by slot):
# (gx, gy, gz, num_warps, shared, stream, cu_function, enter, exit, bin, *non_constexpr_args).
LAUNCHER_LAYOUT = _v2.layout(FLAVOR)


def describe() -> str:
    return (f"v2_1 (triton {triton.__version__}): bin.c_wrapper launcher; device, stream and device type "
            "from each kernel's generated run; patch() through a run descriptor")


# The Backend protocol (backends/__init__.py), served by the flavor (the shared code is in _v2).
is_kernel, native, build, build_forwarder, floor, patch_targets = FLAVOR.protocol()
