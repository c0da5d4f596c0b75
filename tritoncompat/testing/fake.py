"""CPU-only stand-ins for a CUDA GPU, for every Triton release from 2.1.0 to 3.9.0.

``FakeCuda`` installs a fake CUDA driver (test machinery: the suite and the CPU self-check use it). With it, ``kernel[grid](*args)`` on torch CPU tensors
runs Triton's real native path. The kernel is compiled for real (ttir ... ptx, then cubin through
the ptxas in the wheel, for sm_90). Only the device queries, ``load_binary`` and the final C
launcher are fake. The launcher records its positional arguments in ``fc.calls`` instead of
launching::

    with FakeCuda() as fc:          # or the ``fake_cuda`` fixture of tests/conftest.py
        @triton.jit                 # define kernels AFTER install(): see below
        def k(x_ptr, n, BLOCK: tl.constexpr): ...
        k[(4,)](x, 1000, BLOCK=128)
        fc.calls[-1]                # the exact tuple the compiled kernel's launcher received

**Define kernels after ``install()``.** 2.1 binds the device and stream functions into each
kernel's generated launcher when ``@triton.jit`` runs, so a kernel decorated before install uses
the real torch.cuda functions and fails on CPU. Later releases don't care, but the rule keeps a
test portable. On 2.1, a kernel decorated under one fake also works under any later one.

Launches record into whichever fake is installed at launch time: a kernel compiled under an
earlier fake records into the current one. Without any fake, the launch raises RuntimeError.
``FakeCuda(real_launcher=True)`` (3.x) gives kernels Triton's real launcher instead, over the fake
libcuda of ``fake_libcuda.py``; installing a fake of the other kind makes the kernels loaded under
the last one load again on their next launch (new function handle, the new fake's launcher).

Recorded tuple (``x, out, n`` = the call's arguments):

* 2.1 (``c_wrapper``): ``grid0, grid1, grid2, num_warps, shared, stream, function, enter_hook,
  exit_hook, CompiledKernel, x, out, n``. The stream is at index 5.
* 2.2 (``c_wrapper``) and 2.3 (``run``): ``grid0..2, num_warps, num_ctas, clusterX, clusterY,
  clusterZ, shared, stream, function, enter_hook, exit_hook, CompiledKernel, x, out, n``.
  The stream is at index 9.
* 3.x (``run``): ``grid0..2, stream, function, packed_metadata, launch_metadata, enter_hook,
  exit_hook, x, out, n``. The stream is at index 3. The tuple holds the non-constexpr
  arguments only up to 3.2; from 3.3 on it holds every parameter, constexprs included.

``run_interpreter_snippet`` runs code with the Triton interpreter (``TRITON_INTERPRET=1``) in a
subprocess. It prepends ``INTERPRETER_PRELUDE``, which applies this release's patches and
defines ``jit``, the decorator to use for interpreter kernels.
"""
from __future__ import annotations

import atexit
import inspect
import itertools
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import weakref

import triton

import importlib

from .. import _placement, _version
from ..backends._common import LAYOUT_3X
from . import fake_libcuda


def _parse_version(s):
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", s)
    return tuple(int(g or 0) for g in m.groups())


TRITON_VERSION = _parse_version(triton.__version__)
V = TRITON_VERSION

# Handles come from one counter for the whole process, not one per fake. A compiled kernel
# cached by its JITFunction keeps its handle into later tests, and no other kernel reuses it.
_HANDLES = itertools.count(0x1000)
_ACTIVE = []          # installed fakes, innermost last: launches record into _ACTIVE[-1]
# 3.8+: CompiledKernel.__del__ unloads its module through driver.active, which raises on CPU
# once no fake is installed. So while none is, the kernels that a fake loaded hold module=None,
# and their __del__ does nothing. The next install gives the handles back.
_FAKE_MODULES = weakref.WeakKeyDictionary()     # CompiledKernel -> its fake module handle
_MISSING = object()
# 3.x: whether each kernel a fake loaded got Triton's real launcher (FakeCuda(real_launcher=True))
# or the recording one. A compiled kernel keeps its launcher, so when a fake of the other kind is
# installed, _rebind_launchers makes those kernels unloaded again: their next launch loads them
# anew (a new function handle) with the launcher of the fake installed then.
_LAUNCHER_KIND = weakref.WeakKeyDictionary()     # CompiledKernel -> real_launcher of its fake


def _rebind_launchers(real):
    for kernel, kind in list(_LAUNCHER_KIND.items()):
        if kind != real:
            del _LAUNCHER_KIND[kernel]
            _FAKE_MODULES.pop(kernel, None)
            kernel.module = None
            if "_run" in vars(kernel):      # 3.6+: `run` is a property over _run
                kernel._run = None


def _current():
    if not _ACTIVE:
        raise RuntimeError("a kernel compiled under FakeCuda was used with no FakeCuda installed")
    return _ACTIVE[-1]


def _record_launch(*args):
    """The launcher of every kernel compiled under a fake: records instead of launching."""
    _current().calls.append(args)


def _load_binary_arity():
    # <=3.3: (module, function, n_regs, n_spills); >=3.4 adds n_max_threads
    from triton.compiler.compiler import CompiledKernel
    src = inspect.getsource(CompiledKernel._init_handles)
    lhs = re.search(r"\n\s*([^=\n]+?)=\s*[\w.]*load_binary\(", src).group(1)
    return lhs.count(",") + 1


class _Utils:
    def __init__(self, fc):
        self._fc = fc

    def load_binary(self, name, kernel, shared, device):
        function = next(_HANDLES)
        module = 0x100000 | function
        self._fc.loaded.append((name, function, device))
        if V >= (3, 0):
            # The CompiledKernel being loaded: on 3.x, CompiledKernel._init_handles calls
            # driver.active.utils.load_binary itself, so the caller's frame holds it as `self`.
            caller = sys._getframe(1).f_locals.get("self")
            if type(caller).__name__ == "CompiledKernel":
                _LAUNCHER_KIND[caller] = self._fc.real_launcher
                if V >= (3, 8):
                    _FAKE_MODULES[caller] = module
                if self._fc.real_launcher:      # the fake libcuda learns the parameter sizes from the PTX
                    fake_libcuda.register_kernel(function, caller, name)
        return (module, function, 32, 0, 1024)[:self._fc._arity]   # module, fn, regs, spills, max threads

    def get_device_properties(self, device):
        return dict(self._fc.properties)

    def unload_module(self, module):      # 3.8+: CompiledKernel.__del__
        self._fc.unloaded.append(module)



def _launcher_layout():
    """The launcher layout of this release, as the backend that serves it describes it (the one
    description of each launch ABI); 3.x's for a release the version table does not know."""
    name = _version.detect().backend
    if name in _version.BACKENDS:
        return importlib.import_module(f"tritoncompat.backends.{name}").LAUNCHER_LAYOUT
    return LAYOUT_3X.as_dict()


# Where the launcher's arguments hold the enter and exit hooks (3.x: the launch metadata first);
# read once, so the fake launcher stays cheap (the CPU benchmark times through it).
_HOOK_SLOTS = _launcher_layout()["hook_slots"]
_HOOKS_OF = operator.itemgetter(*_HOOK_SLOTS)
_HOOK_LAST = max(_HOOK_SLOTS)


class _Launcher:
    """3.x ``launcher_cls``: one per compiled kernel, becomes ``CompiledKernel.run``. Like the
    real launchers, it calls the enter hook with the launch metadata before the launch and the
    exit hook after it, when they are not None (args 6, 7, 8)."""

    def __init__(self, src, metadata):
        pass

    def __call__(self, *args):
        metadata, enter, leave = _HOOKS_OF(args) if len(args) > _HOOK_LAST else (None, None, None)
        if enter is not None:
            enter(metadata)
        _record_launch(*args)
        if leave is not None:
            leave(metadata)


def _fake_bench(kernel_call, quantiles=None, **kwargs):
    """The autotuner's benchmark: run the config once (its launch is recorded), time it 1 ms,
    so every config ties and Triton keeps the first."""
    kernel_call()
    return [1.0, 1.0, 1.0] if quantiles is not None else 1.0


class _Driver:
    """The fake driver object. Triton creates it itself, lazily, as it creates its real driver:
    on 3.x from its backend registry (``triton.backends.backends``, where install() puts this
    class as the ``nvidia`` backend's driver) on the first read of ``driver.active``; on 2.x
    through the ``LazyProxy``'s init function on its first attribute read. It binds to the fake
    installed when Triton creates it (``FakeCuda.driver`` is then this object; None before).

    Where it differs from the real driver: it never loads libcuda, its launcher records instead of
    launching, and its devices and streams are ``FakeCuda``'s (2 devices, sm_90)."""
    CUDA, HIP, backend, binary_ext = 0, 1, 0, "cubin"     # 2.x: DriverBase constants
    launcher_cls = _Launcher

    def __init__(self, fc=None):
        self._fc = fc = _current() if fc is None else fc
        self.utils = _Utils(fc)
        if fc.real_launcher:        # Triton's own launcher, linked against the fake libcuda
            from triton.backends.nvidia import driver as nvidia
            self.launcher_cls = nvidia.CudaLauncher
            if V >= (3, 7):         # the shared launcher of a real CudaUtils (driver.c)
                real = fake_libcuda.real_cuda_utils()
                self.utils.launch = real.launch
                self.utils.build_signature_metadata = real.build_signature_metadata
        fc._created.append(self)

    @classmethod
    def is_active(cls):
        return True

    def get_current_device(self):
        return self._fc.device

    def set_current_device(self, device):
        self._fc.set_current_device(device)

    def get_current_stream(self, device=None):
        return self._fc.get_current_stream(device)

    def get_device_capability(self, device=None):
        return divmod(self._fc.capability, 10)

    def get_current_target(self):
        if V < (3, 0):
            return ("cuda", self._fc.capability)      # 2.3
        from triton.backends.compiler import GPUTarget
        return GPUTarget("cuda", self._fc.capability, 32)

    def get_benchmarker(self):      # 3.2+: the autotuner benchmarks through the driver
        return _fake_bench

    def assemble_tensormap_to_arg(self, tensormaps_info, args):   # 2.3: no TMA here
        return list(args)

    def get_active_torch_device(self):
        import torch
        return torch.device("cpu")

    def get_device_interface(self):
        import torch
        return torch.cuda


class _InactiveDriver:
    """The driver of every other backend in the registry while a fake is installed (3.x)."""

    @classmethod
    def is_active(cls):
        return False


# 2.1/2.2: module-level functions of triton.runtime.jit / triton.compiler.compiler. The fakes
# look up the current fake on every call, because 2.1 binds them into each kernel at decoration.
def _get_current_device():
    return _current().device


def _set_current_device(idx):
    _current().set_current_device(idx)


def _get_cuda_stream(idx=None):
    return _current().get_current_stream(idx)


def _get_device_capability(idx=None):
    return divmod(_current().capability, 10)


def _device_of(arg):
    # 2.1/2.2: CPU tensors must count as "cuda", or the kernel looks for a "cpu" backend
    return "cuda" if hasattr(arg, "data_ptr") else ""


_STUB = None


def _launch_2x(*args):
    """The 2.x launcher (``c_wrapper`` / ``kernel.run``): records the launch and, like the real
    one, calls the enter and exit hooks with the whole argument tuple when they are not None. A
    raising enter hook stops 2.2-2.3 before the launch; 2.1 launches, then raises."""
    if len(args) <= _HOOK_SLOTS[1]:
        return _record_launch(*args)
    enter, leave = args[_HOOK_SLOTS[0]], args[_HOOK_SLOTS[1]]
    error = None
    if enter is not None:
        try:
            enter(*args)
        except Exception as exc:
            if V >= (2, 2):
                raise
            error = exc
    _record_launch(*args)
    if leave is not None:
        leave(*args)
    if error is not None:
        raise error


def _make_stub(*args, **kwargs):
    # 2.x: CompiledKernel imports the launcher with spec_from_file_location. A .py file works
    # as well as the C extension, and needs neither gcc nor libcuda. Its launch is _record_launch.
    global _STUB
    if _STUB is None:
        d = tempfile.mkdtemp(prefix="tritoncompat-fake-launcher-")
        atexit.register(shutil.rmtree, d, True)
        _STUB = os.path.join(d, "fake_launcher.py")
        with open(_STUB, "w") as f:
            f.write(f"import sys\nlaunch = sys.modules[{__name__!r}]._launch_2x\n")
    return _STUB


class FakeCuda:
    """A fake active CUDA driver: 2 devices, sm_90, recording launcher. Define kernels after install().

    With ``real_launcher=True`` (3.0+), ``launcher_cls`` is Triton's real ``CudaLauncher``, built
    against the fake libcuda of :mod:`tritoncompat.testing.fake_libcuda` (``libcuda``: that
    module), which records the driver launches: see there. ``calls`` then stays empty.

    Attributes: ``calls`` (launcher argument tuples), ``loaded`` ((name, function handle, device)
    per ``load_binary``), ``unloaded`` (module handles unloaded, 3.8+), ``device`` (current
    device), ``streams`` (device -> raw stream handle), ``stream`` (the current device's stream),
    ``properties`` (what ``get_device_properties`` returns), ``capability`` (90).
    """
    device_count = 2

    def __init__(self, capability=90, real_launcher=False):
        self.real_launcher = real_launcher
        self.libcuda = fake_libcuda if real_launcher else None
        self.calls = []
        self.loaded = []
        self.unloaded = []
        self.device = 0
        self.streams = {0: 0x5EA, 1: 0x5EB}
        self.capability = capability
        self.properties = dict(max_shared_mem=232448, multiprocessor_count=132, max_num_regs=65536,
                               warpSize=32, sm_clock_rate=1980000, mem_clock_rate=2619000,
                               mem_bus_width=5120,
                               # H100's; Triton's main (3.10) reads them for max_occupancy
                               max_shared_mem_per_multiprocessor=233472, reserved_shared_mem_per_block=1024)
        self._created = []      # the driver objects Triton created under this fake (lazily, on first use)
        self._arity = _load_binary_arity()
        self._installed = False
        self._saved = None      # what install() replaced (on 3.5+ often None itself)

    @property
    def driver(self):
        """The driver object Triton created under this fake; None until Triton first needed one."""
        return self._created[-1] if self._created else None

    @property
    def drivers_created(self):
        return len(self._created)

    @property
    def stream(self):
        return self.get_current_stream()

    @stream.setter
    def stream(self, value):
        self.streams[self.device] = value

    def get_current_device(self):
        return self.device

    def set_current_device(self, device):
        if not 0 <= device < self.device_count:
            raise ValueError(f"invalid device ordinal {device} (FakeCuda has {self.device_count})")
        self.device = device

    def get_current_stream(self, device=None):
        device = self.device if device is None else device
        return self.streams.get(device, 0x5EA + device)

    def run(self, call, index, handle, torch_stream):
        """``launch(..., stream=, device=)`` on the fake: ``call()`` with ``index`` as the current
        device and ``handle`` as its stream, both restored after (see tritoncompat._placement)."""
        previous_device = self.device
        if index is not None:
            self.set_current_device(index)
        device, previous_stream = self.device, self.get_current_stream()
        if handle is not None:
            self.streams[device] = handle
        try:
            return call()
        finally:
            self.streams[device] = previous_stream
            self.device = previous_device

    # ---------------------------------------------------------------- install / uninstall
    def _targets(self):
        """(owner, attribute, fake value) triples this release needs replaced."""
        import triton.runtime.autotuner as autotuner
        # <=3.1: the autotuner benchmarks with triton.testing.do_bench (CUDA events)
        out = [(autotuner, "do_bench", _fake_bench)] if "do_bench" in vars(autotuner) else []
        if V >= (3, 0):
            return out      # 3.x: driver.set_active does the rest
        jit, comp, drv = (sys.modules[n] for n in
                          ("triton.runtime.jit", "triton.compiler.compiler", "triton.runtime.driver"))
        # The LazyProxy creates the fake on its first attribute read, as it creates the real one.
        out += [(drv.driver, "_init_fn", _Driver), (drv.driver, "_obj", None)]
        if V >= (2, 3):     # 2.3: everything else goes through the driver; only the stub is built apart
            import triton.compiler.backends.cuda as cuda_backend
            return out + [(cuda_backend, "make_stub", _make_stub)]
        fakes = dict(get_current_device=_get_current_device, set_current_device=_set_current_device,
                     get_cuda_stream=_get_cuda_stream, get_device_capability=_get_device_capability)
        for mod in (jit, comp):      # 2.1/2.2: compiler.py imported these names from jit.py
            out += [(mod, name, fn) for name, fn in fakes.items() if name in vars(mod)]
        return out + [(comp, "make_stub", _make_stub),
                      (jit.JITFunction, "_device_of", staticmethod(_device_of))]

    def install(self):
        if self._installed:
            raise RuntimeError("this FakeCuda is already installed")
        if self.real_launcher:      # first: it raises before anything is replaced when it cannot
            problem = fake_libcuda.supported()
            if problem:
                raise RuntimeError(f"FakeCuda(real_launcher=True): {problem}")
            fake_libcuda.load()
        if not _ACTIVE:
            for kernel, module in list(_FAKE_MODULES.items()):     # 3.8+: see _FAKE_MODULES
                if kernel.module is None:
                    kernel.module = module
        if V >= (3, 0):
            self._install_registry()     # before the rest: it raises before replacing anything when it cannot
        if self.real_launcher:
            fake_libcuda.use_in_triton()
        targets = self._targets()
        self._saved = [(owner, name, vars(owner).get(name, _MISSING)) for owner, name, _ in targets]
        for owner, name, value in targets:
            setattr(owner, name, value)
        _ACTIVE.append(self)
        if V >= (3, 0):
            _rebind_launchers(self.real_launcher)
        self._saved_runtime = _placement.runtime     # launch(stream=, device=) on the fake
        _placement.runtime = self
        self._installed = True
        return self

    def _install_registry(self):
        """3.x: the fake driver goes where Triton looks for its driver, its backend registry, as
        the ``nvidia`` backend's driver (other backends' drivers answer inactive), and Triton's
        ``DriverConfig`` is emptied as in a fresh process, so that Triton creates the fake itself
        on the first read of ``driver.active``: 3.5+ hold ``_default``/``_active`` (None until
        first use), 3.0-3.4 a ``default`` ``LazyProxy`` that ``active`` starts as. Never read
        ``driver.active`` here: on a machine without a GPU that builds the real driver, which raises."""
        import triton.runtime.driver  # noqa: F401  (the module; triton.runtime.driver is also its DriverConfig)
        from triton import backends as registry

        driver_module = sys.modules["triton.runtime.driver"]
        config = driver_module.driver
        if "nvidia" not in registry.backends:  # checked before anything is replaced
            raise RuntimeError("FakeCuda: this Triton has no nvidia backend to stand in for")
        self._saved_registry = dict(registry.backends)
        for name, entry in self._saved_registry.items():
            fake = _Driver if name == "nvidia" else _InactiveDriver
            registry.backends[name] = type(entry)(compiler=entry.compiler, driver=fake)
        self._saved_config = dict(vars(config))
        if "_active" in self._saved_config:       # 3.5+: properties over _default / _active
            config._default = config._active = None
        else:                                     # 3.0-3.4: a LazyProxy, as DriverConfig() makes it
            config.default = driver_module.LazyProxy(driver_module._create_driver)
            config.active = config.default

    def _uninstall_registry(self):
        from triton import backends as registry

        driver_module = sys.modules["triton.runtime.driver"]
        registry.backends.clear()
        registry.backends.update(self._saved_registry)
        vars(driver_module.driver).clear()
        vars(driver_module.driver).update(self._saved_config)

    def uninstall(self):
        if not self._installed:
            return
        if _ACTIVE[-1] is not self:
            raise RuntimeError("FakeCuda instances must be uninstalled in reverse order of install")
        if len(_ACTIVE) == 1:
            for kernel, module in list(_FAKE_MODULES.items()):     # 3.8+: see _FAKE_MODULES
                if kernel.module == module:
                    kernel.module = None
        if V >= (3, 0):
            self._uninstall_registry()
        for owner, name, value in reversed(self._saved):
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        _ACTIVE.pop()
        if self.real_launcher:
            fake_libcuda.stop_using_in_triton()
        if _ACTIVE and V >= (3, 0):
            _rebind_launchers(_ACTIVE[-1].real_launcher)
        _placement.runtime = self._saved_runtime
        self._installed, self._saved = False, None

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()


# -------------------------------------------------------------------- interpreter (TRITON_INTERPRET=1)
def interpreter_problem():
    """Why this environment can't run the interpreter, or None when it can."""
    try:
        import numpy
        import torch  # noqa: F401
    except ImportError as e:
        return f"the interpreter needs torch and numpy: {e}"
    if (2, 2) <= V < (3, 2) and _parse_version(numpy.__version__) >= (2, 0, 0):
        # 2.2-3.1: with numpy 2, interpreter loads return garbage and stores are lost, with no error
        return f"triton {triton.__version__}'s interpreter needs numpy<2 (installed: {numpy.__version__})"
    return None


def interpreter_available():
    return interpreter_problem() is None


_PRELUDE_COMMON = '''\
import os
os.environ["TRITON_INTERPRET"] = "1"     # read when @triton.jit runs (2.2+)
import torch
import triton
import triton.language as tl
jit = triton.jit
'''

# 2.1: no TRITON_INTERPRET, only the torch "debugger" of @triton.jit(interpret=True). It creates
# tensors with device="cuda" and MemoryMap.load asserts that its inputs are CUDA tensors.
_PRELUDE_21 = '''\
import inspect as _inspect, textwrap as _textwrap
import triton.interpreter.interpreter as _I, triton.interpreter.tl_lang as _L, triton.interpreter.memory_map as _M

class _CpuTorch:            # torch, with device="cuda" rewritten to "cpu"
    def __getattr__(self, name):
        a = getattr(torch, name)
        if not callable(a) or isinstance(a, type):
            return a
        def f(*args, **kw):
            if kw.get("device") == "cuda":
                kw["device"] = "cpu"
            return a(*args, **kw)
        return f

for _m in (_I, _L, _M):
    _m.torch = _CpuTorch()
# Recompile MemoryMap.load without its two is_cuda asserts, instead of running under python -O,
# which would strip the snippet's own asserts too.
_src = "".join(l for l in _inspect.getsource(_M.MemoryMap.load).splitlines(True) if ".is_cuda" not in l)
_ns = {}
exec(_textwrap.dedent(_src), vars(_M), _ns)
_M.MemoryMap.load = _ns["load"]
jit = triton.jit(interpret=True)
'''

# 2.2: semantic.cast reads builder.target, which the interpreter's Builder lacks. With None,
# the backend counts as not CUDA.
_PRELUDE_22 = '''\
import triton.runtime.interpreter as _I
_I.builder.target = None
'''

INTERPRETER_PRELUDE = _PRELUDE_COMMON + {(2, 1): _PRELUDE_21, (2, 2): _PRELUDE_22}.get(V[:2], "")


def run_interpreter_snippet(code, *, timeout=300, env=None):
    """Run ``INTERPRETER_PRELUDE + dedent(code)`` in a fresh interpreter of this Python.

    Decorate kernels with ``jit``, not ``triton.jit`` (on 2.1 they differ). Keep numpy arrays out
    of the snippet's module level: 2.2 compares every global of the kernel's module with
    ``value in [tl, tl.core]``. The script goes to a file, because Triton reads kernel source
    with ``inspect``. Returns the CompletedProcess (text mode, output captured).
    """
    fd, path = tempfile.mkstemp(prefix="tritoncompat-interp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(INTERPRETER_PRELUDE + textwrap.dedent(code))
        full_env = dict(os.environ if env is None else env, TRITON_INTERPRET="1")
        return subprocess.run([sys.executable, path], capture_output=True, text=True,
                              env=full_env, timeout=timeout)
    finally:
        os.unlink(path)
