"""Backend for Triton 2.3.0 - 2.3.1 (identical launch path).

2.3's ``JITFunction.run(*args, grid, warmup, **kwargs)`` asserts that ``device``, ``stream`` and
``device_type`` are not passed, reads the device and stream from the driver
(``triton.runtime.driver.driver``, a LazyProxy), parses the option keywords into a frozen
``CUDAOptions`` dataclass on every launch, binds the rest with ``inspect.Signature.bind``, and
launches with the 2.2 layout::

    kernel.run(gx, gy, gz, kernel.num_warps, kernel.num_ctas, *kernel.cluster_dims, kernel.shared,
               stream, kernel.function, CompiledKernel.launch_enter_hook,
               CompiledKernel.launch_exit_hook, kernel,
               *driver.assemble_tensormap_to_arg(kernel.metadata["tensormaps_info"], args))

Triton's key: ``(get_cuda_version_key(), sig_key, constexpr_key, spec_key, options)`` in
``fn.cache[device]``, with 2.2's spec (divisibility by 8 included) and ``options`` the
dataclass built from the keywords as passed plus ``debug = self.debug`` and two fields derived
from the target (``get_current_target`` is cached per driver). The shared generator (``_v2``)
keys on the keywords exactly as passed and ``fn.debug``: a refinement.

Once Triton compiled a kernel with TMA descriptors (``metadata["tensormaps_info"]``), every
launch of it goes through Triton's own path (counted); without them ``assemble_tensormap_to_arg``
returns the arguments as they are, and the fast path passes them directly. ``device=``/``stream=`` are rejected by Triton's own
assertions (a miss goes native, which raises them), not by tritoncompat.
"""

from __future__ import annotations

import inspect
from typing import Any, Tuple

import triton
from triton.compiler.backends.cuda import CUDAOptions
from triton.compiler.compiler import CompiledKernel
from triton.runtime.driver import driver as _driver
from triton.runtime.jit import JITFunction

from . import _common, _v2

NAME = "v2_3"

_RUN = _common.triton_run(JITFunction)
_RUN_PARAMS = inspect.signature(_RUN).parameters
if any(_RUN_PARAMS.get(name) is None or _RUN_PARAMS[name].kind is not inspect.Parameter.KEYWORD_ONLY
       for name in ("grid", "warmup")) or "cluster_dims" not in inspect.getsource(_RUN):
    raise ImportError("JITFunction.run does not take keyword-only grid/warmup and launch kernel.run as 2.3 does")


class _Flavor(_v2.Flavor):
    jit_function = JITFunction
    keyword_only = True  # 2.3: run(self, *args, grid, warmup, **kwargs), as 3.x
    compiled_type = CompiledKernel
    # 2.3: kernel.run(gx, gy, gz, num_warps, num_ctas, cluster_dims[0..2], shared, stream, function, ...)
    meta = ("num_warps", "num_ctas", "cluster_x", "cluster_y", "cluster_z", "shared")
    int_code = _common.INT_CODE_MOD8  # 2.3: spec (v % 16 == 0, v % 8 == 0, v == 1) + i32/i64/u64 class
    # 2.3: every CUDAOptions field passed as a keyword is taken as an option, never as a parameter
    # (and asserts on device=, stream=, device_type=, even when they name a parameter)
    reserved = frozenset(CUDAOptions.__dataclass_fields__) | {"grid", "warmup"} | _common.DEPRECATED_OPTIONS

    def runtime(self, kernel: Any) -> _v2.Runtime:
        if _driver._obj is None:  # 2.3: what Triton's first launch does
            _driver._initialize_obj()
        drv = _driver._obj
        get_device, get_stream = _v2.torch_device_functions(getattr(drv, "get_current_device", None),
                                                            getattr(drv, "get_current_stream", None))
        return _v2.Runtime(
            get_device=get_device, get_stream=get_stream, device_of=None, pinned_of=None,
            native_cache_expr="_tc_fn.cache", native_cache=lambda: kernel.cache,
            stale="_tc_driver_proxy._obj is not _tc_driver",  # 2.3: the LazyProxy's target
            namespace={"_tc_driver_proxy": _driver, "_tc_driver": drv})

    def launch_entry(self, compiled: Any) -> Tuple[Any, Any, Tuple[Any, ...]]:
        cluster = compiled.cluster_dims  # 2.3: from the metadata json (2.2: clusterDims)
        # 2.3: reading run loads the module (CompiledKernel.__getattribute__); a miss launched it already
        return (compiled.run, compiled.function,
                (compiled.num_warps, compiled.num_ctas, cluster[0], cluster[1], cluster[2], compiled.shared))

    def uncacheable(self, compiled: Any) -> Any:
        if compiled.metadata["tensormaps_info"]:  # 2.3: TMA descriptors appended per launch
            return "tensormap arguments"
        return None

    run = staticmethod(_RUN)  # 2.3: Triton's run has 3.x's signature already

    def call_triton(self, kernel: Any, args: tuple, grid: Any, options: dict, warmup: Any = False) -> Any:
        return _RUN(kernel, *args, grid=grid, warmup=warmup, **options)


FLAVOR = _Flavor()

# (gx, gy, gz, num_warps, num_ctas, cX, cY, cZ, shared, stream, function, enter, exit, kernel, *args)
LAUNCHER_LAYOUT = _v2.layout(FLAVOR)


def describe() -> str:
    return f"v2_3 (triton {triton.__version__}): kernel.run launcher; device/stream from the driver LazyProxy"


# The Backend protocol (backends/__init__.py), served by the flavor (the shared code is in _v2).
is_kernel, native, build, build_forwarder, floor, patch_targets = FLAVOR.protocol()
