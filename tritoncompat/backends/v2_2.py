"""Backend for Triton 2.2.0.

2.2's ``JITFunction.run(*args, **kwargs)`` pops its special keywords, binds the rest with
``inspect.Signature.bind`` + ``apply_defaults``, wraps every argument in a ``KernelArg``, infers
the device type from every argument, and launches with::

    bin.c_wrapper(gx, gy, gz, bin.num_warps, bin.num_ctas, *bin.clusterDims, bin.shared, stream,
                  bin.cu_function, CompiledKernel.launch_enter_hook,
                  CompiledKernel.launch_exit_hook, bin, *non_constexpr_args[, *tma_descriptors])

Triton's key: ``(version_key, sig_key, constexpr_key, spec_key, num_warps, num_ctas, num_stages,
enable_warp_specialization, enable_fp_fusion, self.debug)`` in ``fn.cache[device]``; the spec
adds divisibility by 8 to 2.1's, and omitted ``num_warps``/``num_stages`` are defaulted per launch
(``num_stages`` from the current device's capability). The shared generator (``_v2``) refines it,
with the %8 bit and the device index.

The device, stream and device-type functions are module globals of ``triton.runtime.jit`` and
``JITFunction._device_of``, looked up by Triton on every launch: a launcher captures them, and a
launch that finds one replaced rebuilds it. As on 2.1, a hit skips Triton's
``torch.cuda.set_device(torch.cuda.current_device())`` (a no-op for the current device).

Sent through Triton's own path (counted): ``device=``, ``stream=``, ``device_type=``,
``extern_libs=`` passed explicitly, ``warmup=True``, and every launch of a kernel once Triton
compiled it with Hopper TMA descriptors (``tensormaps_info``) or for another device type.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Tuple

import triton
import triton.runtime.jit as _jit
from triton.compiler.compiler import CompiledKernel
from triton.runtime.jit import JITFunction

from . import _common, _v2

NAME = "v2_2"

_RUN = _common.triton_run(JITFunction)
# 2.2: get_special_arg("name", default) pops each launch option from run's kwargs
_SPECIAL = frozenset(re.findall(r'get_special_arg\("(\w+)"', inspect.getsource(_RUN)))
if "device" not in _SPECIAL or "c_wrapper" not in inspect.getsource(_RUN):
    raise ImportError("JITFunction.run does not take device=/stream= and launch c_wrapper as 2.2 does")


class _Flavor(_v2.Flavor):
    jit_function = JITFunction
    compiled_type = CompiledKernel
    # 2.2: c_wrapper(gx, gy, gz, num_warps, num_ctas, clusterDims[0..2], shared, stream, cu_function, ...)
    meta = ("num_warps", "num_ctas", "cluster_x", "cluster_y", "cluster_z", "shared")
    int_code = _common.INT_CODE_MOD8  # 2.2: spec (v % 16 == 0, v % 8 == 0, v == 1) + i32/i64/u64 class
    native_options = frozenset({"grid", "warmup", "device", "stream", "device_type", "extern_libs"})
    reserved = _SPECIAL  # 2.2: a parameter with one of these names would be popped as an option

    def runtime(self, kernel: Any) -> _v2.Runtime:
        get_device, get_stream = _v2.torch_device_functions(_jit.get_current_device, _jit.get_cuda_stream)
        return _v2.Runtime(
            get_device=get_device, get_stream=get_stream, device_of=kernel._device_of,
            pinned_of=kernel._pinned_memory_of, native_cache_expr="_tc_fn.cache", native_cache=lambda: kernel.cache,
            # 2.2: module globals / class attributes, looked up by Triton on every launch
            stale=("_tc_jit.get_current_device is not _tc_seen_device or _tc_jit.get_cuda_stream is not _tc_seen_stream"
                   " or _tc_fn._device_of is not _tc_seen_device_of"),
            namespace={"_tc_jit": _jit, "_tc_seen_device": _jit.get_current_device,
                       "_tc_seen_stream": _jit.get_cuda_stream, "_tc_seen_device_of": kernel._device_of})

    def launch_entry(self, compiled: Any) -> Tuple[Any, Any, Tuple[Any, ...]]:
        cluster = compiled.clusterDims  # 2.2: clusterDims (2.3: cluster_dims)
        return (compiled.c_wrapper, compiled.cu_function,
                (compiled.num_warps, compiled.num_ctas, cluster[0], cluster[1], cluster[2], compiled.shared))

    def uncacheable(self, compiled: Any) -> Any:
        if compiled.device_type != "cuda":  # 2.2: third-party backends launch differently
            return f"device type {compiled.device_type}"
        if hasattr(compiled, "tensormaps_info"):  # 2.2: TMA descriptors appended per launch
            return "tensormap arguments"
        return None

    def triton_run(self, kernel: Any) -> Any:
        return _RUN.__get__(kernel)


FLAVOR = _Flavor()

# (gx, gy, gz, num_warps, num_ctas, cX, cY, cZ, shared, stream, cu_function, enter, exit, bin, *args)
LAUNCHER_LAYOUT = _v2.layout(FLAVOR)


def describe() -> str:
    return (f"v2_2 (triton {triton.__version__}): bin.c_wrapper launcher; device/stream from triton.runtime.jit; "
            f"options {', '.join(sorted(_SPECIAL))}")


# The Backend protocol (backends/__init__.py), served by the flavor (the shared code is in _v2).
is_kernel, native, build, build_forwarder, floor, patch_targets = FLAVOR.protocol()
