"""The own launch: which compiled kernels a hit launches straight at the driver, and why the
others keep Triton's launcher. The one place that decides.

A hit normally ends in the compiled kernel's launcher (``CompiledKernel.run``): a Python
``CudaLauncher.__call__`` and a generated C function that parses the arguments again, calls
``data_ptr()`` again and finally ``cuLaunchKernelEx``. For a compiled kernel that :func:`plan`
accepts, the cache entry carries an ``_accel_c.Direct`` and the accelerator does that work
itself, reusing the pointers the key already read (``_accel.c``, "The own launch").

Only launchers whose code is known exactly are modelled, recognised by their source, not by the
version number: the generated C launchers of 3.3.0 - 3.6.0 (the source of what generates them:
``make_launcher``, ``ty_to_cpp``, ``CudaLauncher``) and the shared launcher of 3.7.0 - 3.9.0
(``driver.c``, whose ``launchKernel`` converts each argument with the extractor its
``kernel_signature`` byte names, and ``CudaLauncher``). Any other source (3.0-3.2, a patched
Triton, the coming 3.10) keeps Triton's launcher, counted as "launcher not modelled".

Everything else the own launch cannot do exactly goes to Triton's launcher too, counted in
``cache_info().handoffs`` by reason: once per compiled kernel (scratch memory to allocate,
clusters, tensor descriptors, a parameter type not modelled, a launcher that is not Triton's
``CudaLauncher``, ...) and once per launch that Triton's launcher made instead (a value whose
conversion or pointer check Triton's launcher must do, and raise for). Launches with hooks or
pre-run hooks never reach it: they go through the Python launcher (``_accel.c``'s ``plain_hit``).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
import weakref
from typing import Any, NamedTuple, Optional, Tuple

from .. import _accel, _cache, _config

__all__ = ["plan", "codes", "model", "MODELS", "HANDOFF_ARGUMENT"]

# Counted per launch that an own-launch kernel handed to Triton's launcher.
HANDOFF_ARGUMENT = "an argument for Triton's launcher to convert or check"


class Model(NamedTuple):
    """What one release's launcher does around the kernel's own parameters."""

    release: str
    scratch: int  # zero scratch pointers appended: global (3.3+), profile (3.5+)
    plain: bool  # 3.3: cuLaunchKernel unless cooperative; 3.4+: always cuLaunchKernelEx
    float_storage: bool  # 3.4+: floats parsed as double, stored by FLOAT_PACK_FUNCTION; 3.3: "f"/"d"
    shared: bool = False  # 3.7+: the shared launcher (driver.c), types from kernel_signature
    max_shared: int = 1 << 31  # 3.7+: above 228 KiB the launcher adds an attribute not modelled here


# sha256 (first 16 hex digits) of the launcher's source -> the model of its launcher.
MODELS = {
    "657cf763a1d24abb": Model("3.3.0 / 3.3.1", scratch=1, plain=True, float_storage=False),
    "3c13dbb2730e3789": Model("3.4.0", scratch=1, plain=False, float_storage=True),
    "dcd36538af1b6712": Model("3.5.0 / 3.5.1", scratch=2, plain=False, float_storage=True),
    "0fba855b090ebdad": Model("3.6.0", scratch=2, plain=False, float_storage=True),
    "72be00a93bc2952e": Model("3.7.0 / 3.7.1", scratch=2, plain=False, float_storage=True, shared=True,
                              max_shared=228 * 1024),
    "03b615d241b9bc89": Model("3.8.0", scratch=2, plain=False, float_storage=True, shared=True,
                              max_shared=228 * 1024),
    "9c998652b6fbe810": Model("3.9.0", scratch=2, plain=False, float_storage=True, shared=True,
                              max_shared=228 * 1024),
}

# 3.7+: driver.c's ExtractorTypeIndex (the bytes of CudaLauncher.kernel_signature) -> the
# accelerator's code of the same conversion (i1 -> extractI32, u1 -> extractU32 there).
_EXTRACTORS = {1: "pointer", 2: "x8", 3: "x16", 4: "x32", 5: "L", 6: "xu8", 7: "xu16", 8: "xu32", 9: "xu64",
               10: "pack_fp16", 11: "pack_bf16", 12: "pack_fp32", 13: "pack_fp64"}

# The release's C type of a scalar (ty_to_cpp) -> its PyArg_ParseTuple format (format_of, the
# same table in every modelled release); the format's letter names the accelerator's code.
_FORMAT = {"float": "f", "double": "d", "int8_t": "b", "int16_t": "h", "int32_t": "i", "int64_t": "L",
           "uint8_t": "B", "uint16_t": "H", "uint32_t": "I", "uint64_t": "K"}

_lock = threading.Lock()
_model: Optional[Tuple[Any, Optional[Model], str]] = None  # (driver module, model, fingerprint)

if hasattr(os, "register_at_fork"):  # a fork while another thread holds it must not leave it held in the child
    os.register_at_fork(after_in_child=_lock._at_fork_reinit)


def fingerprint(driver_module: Any) -> str:
    """The hash of what makes the release's launcher: 3.3-3.6 the Python that generates its C
    source; 3.7+ driver.c, where the shared launcher is, and CudaLauncher."""
    if hasattr(driver_module, "make_launcher"):
        parts = [inspect.getsource(getattr(driver_module, name))
                 for name in ("make_launcher", "ty_to_cpp", "CudaLauncher") if hasattr(driver_module, name)]
    else:
        with open(os.path.join(os.path.dirname(driver_module.__file__), "driver.c")) as f:
            parts = [f.read(), inspect.getsource(driver_module.CudaLauncher)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def model() -> Tuple[Any, Optional[Model], str]:
    """(Triton's NVIDIA driver module, the model of its launcher or None, the fingerprint)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                try:
                    from triton.backends.nvidia import driver as driver_module
                    found = fingerprint(driver_module)
                except Exception:  # no NVIDIA backend, or no source to read
                    driver_module, found = None, ""
                _model = (driver_module, MODELS.get(found), found)
    return _model


def enabled() -> bool:
    return _config.flag("TRITONCOMPAT_DIRECT", True)


def _handoff_argument() -> None:
    _cache.count_handoff(HANDOFF_ARGUMENT)


def _generated_name(driver_module: Any, m: Model, ty: str) -> Optional[str]:
    """3.3-3.6: the code of a parameter's conversion in the generated launcher, from the
    release's own tables (None: not modelled)."""
    if ty.startswith("*"):
        return "pointer"
    if m.float_storage and ty in driver_module.FLOAT_STORAGE_TYPE:  # 3.4+
        return driver_module.FLOAT_PACK_FUNCTION[ty]
    try:
        return _FORMAT.get(driver_module.ty_to_cpp(ty))
    except Exception:
        return None


def codes(module: Any, driver_module: Any, m: Model, launcher: Any, signature: dict) -> Tuple[Optional[bytes], str]:
    """The accelerator's code of each parameter's conversion (``skip`` for a constexpr), or None
    and why not. The parameters the launcher passes (the non-constexpr ones, in order) are
    converted as 3.3-3.6's generated launcher converts their type, or (3.7+) with the extractor of
    driver.c that the launcher's ``kernel_signature`` byte names (what extractArgs passes)."""
    if any(not isinstance(ty, str) for ty in signature.values()):
        return None, "tuple parameters"
    passed = [ty for ty in signature.values() if ty != "constexpr"]
    if m.shared:
        extractors = bytes(launcher.kernel_signature)
        if len(passed) != len(extractors):
            return None, "signature does not match the launcher's"
        passed_names = [_EXTRACTORS.get(e) for e in extractors]
    else:
        passed_names = [_generated_name(driver_module, m, ty) for ty in passed]
    names = module.DIRECT_CODES
    out, passed_names = [], iter(passed_names)
    for ty in signature.values():
        name = "skip" if ty == "constexpr" else next(passed_names)
        if name not in names:
            return None, f"parameter type {ty.split('<')[0]} not modelled"
        out.append(names.index(name))
    return bytes(out), ""


# compiled kernel -> cache_clear() count when its own launch or hand-off was counted: once per
# compiled kernel, however many fast keys (cache entries) reach it
_counted: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()


def plan(compiled: Any, kernel: Any) -> Any:
    """The ``Direct`` of a compiled kernel of ``kernel`` (a JITFunction), or None: its hits keep
    Triton's launcher, and the reason is counted once per compiled kernel (``cache_info().own``
    or ``.handoffs``; again after a ``cache_clear()``)."""
    direct, reason = _plan(compiled, kernel)
    clears = _cache.clears()
    try:
        with _lock:
            first = _counted.get(compiled) != clears
            _counted[compiled] = clears
    except TypeError:  # not weakly referenceable: counted per entry
        first = True
    if first:
        _cache.count_handoff(None if direct is not None else reason)
    return direct


def _plan(compiled: Any, kernel: Any) -> Tuple[Any, str]:
    module = _accel.load()
    if module is None:
        return None, "accelerator off (the own launch is in C)"
    if not enabled():
        return None, "own launch off (TRITONCOMPAT_DIRECT=0)"
    driver_module, m, _ = model()
    if m is None:
        return None, "launcher not modelled"
    try:
        md = compiled.metadata
        if md.target.backend != "cuda":
            return None, "non-CUDA target"
        launcher = compiled.run
        if type(launcher) is not driver_module.CudaLauncher:
            return None, "launcher is not Triton's CudaLauncher"
        # what the launcher launches with: the JIT call's packed metadata (num_warps, num_ctas,
        # shared, ...) and its own attributes, set from the metadata
        num_warps, num_ctas, shared = compiled.packed_metadata[:3]
        # Triton's main (3.10): the launcher launches with its own shared size, the compiled
        # kernel's raised to the max_occupancy option's reservation (CudaLauncher.shared)
        shared = getattr(launcher, "shared", shared)
        if num_ctas != 1:
            return None, "clusters (num_ctas > 1)"
        if shared > m.max_shared:
            return None, "oversized shared memory"
        if getattr(md, "global_scratch_size", 0) or getattr(md, "profile_scratch_size", 0):
            return None, "scratch memory to allocate"
        if getattr(md, "tensordesc_meta", None):
            return None, "tensor descriptors"
        if getattr(launcher, "gsan_enabled", False):  # 3.9
            return None, "GSan"
        signature = dict(compiled.src.signature)
        if list(signature) != list(kernel.arg_names):
            return None, "signature does not match the parameters"
        conversions, reason = codes(module, driver_module, m, launcher, signature)
        if conversions is None:
            return None, reason
        cooperative = bool(getattr(launcher, "launch_cooperative_grid", False))
        pdl = bool(getattr(launcher, "launch_pdl", False))  # 3.4+
        return module.Direct(compiled.function, num_warps, shared, cooperative, pdl, m.plain, m.scratch,
                             conversions, _handoff_argument), ""
    except Exception as exc:  # never break a launch: Triton's launcher stays
        return None, f"not planned ({type(exc).__name__})"
