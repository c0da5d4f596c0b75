"""A fake ``libcuda.so.1`` for CPU tests: Triton's real launcher, recording what it hands the driver.

``fake_libcuda.c`` (next to this file) is a small C library with the soname ``libcuda.so.1`` that
exports the CUDA driver entry points Triton 3.0-3.9's compiled launchers and its ``driver.c``
(``CudaUtils``) use. Its ``cuLaunchKernel`` / ``cuLaunchKernelEx`` launch nothing: they record the
launch configuration and the parameter *bytes*. The C file's header comment lists everything it
does differently from the real driver.

:func:`load` builds it (gcc, or ``$CC``, from PATH, as Triton builds its launchers; about a second,
once per process, into a temporary folder) and loads it with ``RTLD_GLOBAL``. From then on, every
module of the process linked with ``-lcuda`` and every ``dlopen("libcuda.so.1")`` gets this library:
the dynamic loader matches an already loaded object by its soname (load() checks that it does).
A process cannot unload it again, and it is the process's one "libcuda", so load it only in a
process that has no real one (no GPU torch, no real driver loaded: load() refuses if one is).

With ``FakeCuda(real_launcher=True)`` (or the ``fake_libcuda`` fixture of tests/conftest.py),
Triton compiles its **real** launcher for each kernel against this library (``TRITON_LIBCUDA_PATH``
points at it while the fake is installed) and uses it as ``launcher_cls``: 3.0-3.6 build a C
launcher per kernel, 3.7-3.9 use the shared ``launch`` of a real ``CudaUtils`` compiled from
Triton's driver.c, whose other functions (device queries, ``load_binary``) stay FakeCuda's.
FakeCuda's ``load_binary`` registers each function's parameter sizes here, read from the kernel's
PTX ``.entry`` (see :func:`ptx_param_sizes`). Nothing goes through ``fc.calls`` then.

API (module functions; the library is process-global, so is its state):

* ``load() -> ctypes.CDLL``, ``library_path() -> str``, ``supported() -> str | None`` (why not).
* ``launches() -> list[dict]``: every recorded launch since the last ``reset()``, oldest first::

      {"entry": "cuLaunchKernel" | "cuLaunchKernelEx", "function": int, "grid": (x, y, z),
       "block": (x, y, z), "shared": int, "stream": int,
       "attrs": [{"id": int, "name": str, "value": (u32, ...), "raw": bytes}, ...],
       "params": [bytes, ...] | None, "error": None | "unregistered function" | ...}

  ``attrs`` holds ``cuLaunchKernelEx``'s launch attributes in order (empty for ``cuLaunchKernel``);
  ``value`` holds the 32-bit words of ``CUlaunchAttributeValue`` that the attribute uses (cluster
  dimension: ``(x, y, z)``; cooperative, PDL, scheduling policy: one word), ``raw`` its first 16
  bytes (compare ``value``: Triton 3.0-3.3 leave the unused bytes of the scheduling policy
  uninitialised). ``params[i]`` holds the bytes of
  the kernel's parameter i (sizes from the PTX, Triton's scratch pointers included).
* ``reset()``: forgets launches, counters, host/mapped ranges, a pending failure, the no-context
  switch (registered functions stay).
* ``mark_host(obj, size=None)``: ``obj`` (a tensor: its storage, or an int address and ``size``)
  counts as host memory: ``cuPointerGetAttribute`` answers ``CUDA_ERROR_INVALID_VALUE`` for it.
* ``map_pointer(obj, delta, size=None)``: the device pointer of ``obj``'s addresses is address + delta.
* ``fail_next_launch(code=CUDA_ERROR_LAUNCH_FAILED)``: the next launch returns ``code``, records nothing.
* ``set_no_context(on=True)``: ``cuCtxGetCurrent`` answers NULL (until ``cuCtxSetCurrent``).
* ``counters() -> dict``: calls of cuPointerGetAttribute, cuCtxGetCurrent, cuCtxSetCurrent,
  cuDeviceGet, cuDevicePrimaryCtxRetain, cuLaunchKernel, cuLaunchKernelEx, failed launches,
  cuFuncSetAttribute, cuModuleLoadData.
* ``register(function, sizes)``, ``ptx_param_sizes(ptx, name) -> list[int]``, ``pack(fmt, *values)``.
* ``use_in_triton()`` / ``stop_using_in_triton()``: point Triton's ``libcuda_dirs`` at the library
  (FakeCuda(real_launcher=True) does it on install / uninstall).
"""
from __future__ import annotations

import atexit
import ctypes
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading

from .. import _accel

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_libcuda.c")

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_ILLEGAL_ADDRESS = 700
CUDA_ERROR_LAUNCH_FAILED = 719

ATTRIBUTE_NAMES = {1: "ACCESS_POLICY_WINDOW", 2: "COOPERATIVE", 3: "SYNCHRONIZATION_POLICY",
                   4: "CLUSTER_DIMENSION", 5: "CLUSTER_SCHEDULING_POLICY_PREFERENCE",
                   6: "PROGRAMMATIC_STREAM_SERIALIZATION", 7: "PROGRAMMATIC_EVENT", 8: "PRIORITY",
                   9: "MEM_SYNC_DOMAIN_MAP", 10: "MEM_SYNC_DOMAIN", 11: "PREFERRED_CLUSTER_DIMENSION"}
COUNTERS = ("cuPointerGetAttribute", "cuCtxGetCurrent", "cuCtxSetCurrent", "cuDeviceGet", "cuDevicePrimaryCtxRetain",
            "cuLaunchKernel", "cuLaunchKernelEx", "launch_failed", "cuFuncSetAttribute", "cuModuleLoadData")
_ERRORS = {0: None, 1: "unregistered function", 2: "launched through extra (no kernelParams)", 3: "too many parameters"}
_MAX_PARAMS, _MAX_ATTRS = 256, 8
# How many 32-bit words of CUlaunchAttributeValue an attribute uses (the rest is not set, and
# Triton 3.0-3.3 leave it uninitialised): clusterDim x, y, z; everything Triton sets otherwise is one int.
_VALUE_WORDS = {4: 3, 11: 3}


class _Launch(ctypes.Structure):
    """fake_libcuda.c's tc_fake_launch, field for field."""
    _fields_ = [("entry", ctypes.c_int), ("error", ctypes.c_int), ("function", ctypes.c_uint64),
                ("grid", ctypes.c_uint32 * 3), ("block", ctypes.c_uint32 * 3), ("shared", ctypes.c_uint32),
                ("num_attrs", ctypes.c_uint32), ("stream", ctypes.c_uint64),
                ("attr_id", ctypes.c_int32 * _MAX_ATTRS), ("attr_value", (ctypes.c_uint32 * 4) * _MAX_ATTRS),
                ("num_params", ctypes.c_int32), ("total_bytes", ctypes.c_int32), ("params", ctypes.c_void_p),
                ("param_size", ctypes.c_int32 * _MAX_PARAMS)]


_LOCK = threading.Lock()
_LIB = None
_PATH = None
_SAVED_ENV = []     # use_in_triton's saved TRITON_LIBCUDA_PATH values (a stack: installs nest)


def supported():
    """Why Triton's real launcher can't run on the fake libcuda here, or None when it can."""
    try:
        import triton
    except ImportError:
        return "Triton is not installed"
    m = re.match(r"(\d+)\.(\d+)", triton.__version__)
    if (int(m.group(1)), int(m.group(2))) < (3, 0):
        return (f"Triton {triton.__version__}: the fake libcuda serves Triton 3.0-3.9 (2.x builds its launcher "
                "apart from the driver, which FakeCuda replaces whole on 2.x)")
    if _compiler() is None:
        return f"no C compiler ({_accel.compiler()[1]})"
    cc = os.environ.get("CC")
    if cc and shutil.which(cc) is None:  # 3.0-3.9 build.py: [CC, src, ...], CC one program name
        return (f"Triton builds its own launcher with CC={cc!r} as one program name, and there is no such "
                "program (Triton's own launches fail the same way on a GPU)")
    if _include_dir() is None:
        return "Triton's bundled cuda.h (backends/nvidia/include) is missing"
    if _LIB is None:
        other = _loaded_libcuda() or _installed_libcuda()
        if other is not None:  # a GPU machine: the fake would stand in for its driver in this process
            return f"a real CUDA driver is here ({other}); the fake libcuda is for machines without one"
    return None


def _installed_libcuda():
    """The real driver library the dynamic loader would find, or None (a machine without a GPU)."""
    import ctypes.util

    try:
        return ctypes.util.find_library("cuda")
    except Exception:
        return None


def _compiler():
    """The C compiler's command words (``$CC`` split as a shell word list, as the accelerator's
    build splits it), or None."""
    return _accel.compiler()[0]


def _include_dir():
    import triton
    d = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "include")
    return d if os.path.exists(os.path.join(d, "cuda.h")) else None


def _build():
    """Compiles the library into a fresh temporary folder as libcuda.so.1 (its soname), with a
    libcuda.so link next to it for -lcuda (3.0-3.5; 3.6+ link -l:libcuda.so.1)."""
    d = tempfile.mkdtemp(prefix="tritoncompat-fake-libcuda-")
    atexit.register(shutil.rmtree, d, True)
    so = os.path.join(d, "libcuda.so.1")
    # Triton's own cuda.h, so that its macros (e.g. _v2 names) give the names its launchers link to
    cmd = [*_compiler(), SOURCE, "-shared", "-fPIC", "-O1", "-Wl,-soname,libcuda.so.1", f"-I{_include_dir()}",
           "-o", so, "-lpthread"]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise RuntimeError(f"building the fake libcuda failed: {' '.join(cmd)}: {exc}") from None
    if result.returncode != 0:
        raise RuntimeError(f"building the fake libcuda failed: {' '.join(cmd)}\n{result.stderr}")
    os.symlink("libcuda.so.1", os.path.join(d, "libcuda.so"))
    return so


def _loaded_libcuda():
    """The path of a libcuda.so.1 already mapped into this process, or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rstrip("\n").split(None, 5)[-1] if len(line.split()) >= 6 else ""
                if os.path.basename(path).startswith("libcuda.so"):
                    return path
    except OSError:
        pass
    return None


def load():
    """Builds (once per process) and loads the fake libcuda with RTLD_GLOBAL; returns the ctypes CDLL."""
    global _LIB, _PATH
    with _LOCK:
        if _LIB is not None:
            return _LIB
        problem = supported()
        if problem:
            raise RuntimeError(f"the fake libcuda is not available: {problem}")
        other = _loaded_libcuda()
        if other is not None:
            raise RuntimeError(f"a libcuda is already loaded in this process ({other}): the fake would not "
                               "replace it (the loader resolves libcuda.so.1 to the one already loaded)")
        path = _build()
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        # The point of the fake: dlopen("libcuda.so.1") (what Triton's launchers and the accelerator
        # call) must now give this very library, by soname, though its folder is on no search path.
        if ctypes.CDLL("libcuda.so.1")._handle != lib._handle:
            raise RuntimeError("dlopen('libcuda.so.1') does not resolve to the loaded fake libcuda")
        if lib.tc_fake_launch_struct_size() != ctypes.sizeof(_Launch):
            raise RuntimeError("fake_libcuda.c's tc_fake_launch and _Launch differ")
        lib.tc_fake_register.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.tc_fake_mark_host.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
        lib.tc_fake_map.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int64]
        lib.tc_fake_set_no_context.argtypes = [ctypes.c_int]
        lib.tc_fake_fail_next_launch.argtypes = [ctypes.c_int]
        lib.tc_fake_get_launch.argtypes = [ctypes.c_int, ctypes.POINTER(_Launch)]
        lib.tc_fake_counter.argtypes = [ctypes.c_int]
        lib.tc_fake_counter.restype = ctypes.c_long
        _LIB, _PATH = lib, path
        return lib


def library_path():
    """The path of the built library (``<folder>/libcuda.so.1``); builds and loads it first."""
    load()
    return _PATH


# ------------------------------------------------------------------ Triton's libcuda lookup
def _driver_module():
    import triton.backends.nvidia.driver as driver
    return driver


def _clear_lookup_caches():
    driver = _driver_module()
    for name in ("libcuda_dirs", "library_dirs"):
        fn = getattr(driver, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()


def use_in_triton():
    """Triton's launcher builds link against the fake: ``TRITON_LIBCUDA_PATH`` = its folder, and the
    lru_caches of ``libcuda_dirs`` / ``library_dirs`` cleared. Undo with stop_using_in_triton()."""
    folder = os.path.dirname(library_path())
    _SAVED_ENV.append(os.environ.get("TRITON_LIBCUDA_PATH"))
    os.environ["TRITON_LIBCUDA_PATH"] = folder
    _clear_lookup_caches()


def stop_using_in_triton():
    if not _SAVED_ENV:
        return
    previous = _SAVED_ENV.pop()
    if previous is None:
        os.environ.pop("TRITON_LIBCUDA_PATH", None)
    else:
        os.environ["TRITON_LIBCUDA_PATH"] = previous
    _clear_lookup_caches()


def real_cuda_utils():
    """3.7+: Triton's real ``CudaUtils`` (driver.c compiled against the fake; a singleton). Its
    ``launch`` and ``build_signature_metadata`` are the shared launcher. Call after use_in_triton()."""
    return _driver_module().CudaUtils()


# ------------------------------------------------------------------ parameters
# PTX parameter types -> bytes
_PTX_SIZES = {"u64": 8, "b64": 8, "s64": 8, "f64": 8, "u32": 4, "b32": 4, "s32": 4, "f32": 4,
              "u16": 2, "b16": 2, "s16": 2, "f16": 2, "bf16": 2, "u8": 1, "b8": 1, "s8": 1}


def ptx_param_sizes(ptx, name=None):
    """The byte size of each parameter of the PTX ``.entry`` ``name`` (the only / first entry
    when None), in order: ``.param .u64 ...`` 8, ``.u32/.b32/.s32/.f32`` 4, ``.u16/.f16`` 2,
    ``.u8/.b8`` 1, an array ``.param .align A .b8 x[N]`` N times its element size. Triton's
    trailing scratch pointers (global_scratch, profile_scratch) are PTX parameters too."""
    pattern = r"\.entry\s+%s\s*\(([^)]*)\)" % (re.escape(name) if name else r"[\w$]+")
    m = re.search(pattern, ptx)
    if m is None:
        raise ValueError(f"no .entry {name or ''} with a parameter list in the PTX")
    sizes = []
    for item in m.group(1).split(","):
        item = item.strip()
        if not item:
            continue
        tokens = item.replace("[", " [").split()
        types = [t[1:] for t in tokens if t.startswith(".") and t[1:] in _PTX_SIZES]
        if not types:
            raise ValueError(f"unknown PTX parameter type: {item!r}")
        size = _PTX_SIZES[types[0]]
        count = re.search(r"\[(\d+)\]", item)
        sizes.append(size * int(count.group(1)) if count else size)
    return sizes


def register(function, sizes):
    """Tells the fake the byte size of each parameter of ``function`` (a CUfunction handle)."""
    arr = (ctypes.c_int * max(len(sizes), 1))(*sizes)
    if load().tc_fake_register(ctypes.c_void_p(function), len(sizes), arr) != 0:
        raise ValueError(f"cannot register {len(sizes)} parameters (at most {_MAX_PARAMS})")


def register_kernel(function, compiled_kernel, name=None):
    """Registers ``function`` with the parameter sizes of ``compiled_kernel``'s PTX entry ``name``."""
    register(function, ptx_param_sizes(compiled_kernel.asm["ptx"], name))


# ------------------------------------------------------------------ reading and steering
def _decode(rec):
    params = None
    if rec.num_params >= 0:
        blob = ctypes.string_at(rec.params, rec.total_bytes) if rec.total_bytes else b""
        params, off = [], 0
        for i in range(rec.num_params):
            size = rec.param_size[i]
            params.append(blob[off:off + size])
            off += size
    attrs = []
    for i in range(min(rec.num_attrs, _MAX_ATTRS)):
        ident, words = rec.attr_id[i], tuple(rec.attr_value[i])
        attrs.append({"id": ident, "name": ATTRIBUTE_NAMES.get(ident, str(ident)),
                      "value": words[:_VALUE_WORDS.get(ident, 1)], "raw": bytes(rec.attr_value[i])})
    return {"entry": {1: "cuLaunchKernel", 2: "cuLaunchKernelEx"}[rec.entry], "function": rec.function,
            "grid": tuple(rec.grid), "block": tuple(rec.block), "shared": rec.shared, "stream": rec.stream,
            "attrs": attrs, "params": params, "error": _ERRORS.get(rec.error, str(rec.error))}


def launches():
    """Every launch recorded since the last reset(), oldest first (see the module docstring)."""
    lib = load()
    out = []
    for i in range(lib.tc_fake_num_launches()):
        rec = _Launch()
        if lib.tc_fake_get_launch(i, ctypes.byref(rec)) == 0:
            out.append(_decode(rec))
    return out


def reset():
    load().tc_fake_reset()


def counters():
    lib = load()
    return {name: lib.tc_fake_counter(i) for i, name in enumerate(COUNTERS)}


def _range(obj, size):
    if isinstance(obj, int):
        return obj, size or 1
    if size is None:        # a tensor: its whole storage, from its first element
        size = max(obj.untyped_storage().nbytes() - obj.storage_offset() * obj.element_size(), 1)
    return obj.data_ptr(), size


def mark_host(obj, size=None):
    """``cuPointerGetAttribute(DEVICE_POINTER)`` on these addresses answers CUDA_ERROR_INVALID_VALUE."""
    load().tc_fake_mark_host(*_range(obj, size))


def map_pointer(obj, delta, size=None):
    """The device pointer of an address in ``obj``'s range is the address + ``delta``."""
    ptr, size = _range(obj, size)
    load().tc_fake_map(ptr, size, delta)


def fail_next_launch(code=CUDA_ERROR_LAUNCH_FAILED):
    load().tc_fake_fail_next_launch(code)


def set_no_context(on=True):
    load().tc_fake_set_no_context(1 if on else 0)


def pack(fmt, *values):
    """struct.pack, little-endian, without padding: ``pack("q", -5)`` = the bytes of an int64 param."""
    return struct.pack("<" + fmt, *values)


if sys.platform != "linux":     # the soname trick and /proc/self/maps are Linux (glibc) things
    def supported():  # noqa: F811
        return f"the fake libcuda needs Linux (this is {sys.platform})"
