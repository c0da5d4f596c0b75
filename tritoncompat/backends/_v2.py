"""The generator shared by the 2.x backends (``v2_1``, ``v2_2``, ``v2_3``).

Every 2.x release launches through the compiled kernel's own C launcher with a fixed prefix of
launch metadata, then only the NON-constexpr arguments::

    2.1      bin.c_wrapper(gx, gy, gz, num_warps, shared, stream, cu_function, enter, exit, bin, *args)
    2.2      bin.c_wrapper(gx, gy, gz, num_warps, num_ctas, cX, cY, cZ, shared, stream, cu_function,
                           enter, exit, bin, *args)
    2.3      kernel.run(... the 2.2 layout, with kernel.cluster_dims and kernel.function ...)

keeps compiled kernels in ``fn.cache[device][tuple key]``, and evaluates the grid before the cache
lookup. What differs between the releases is a :class:`Flavor`, built once by each backend
module: where the device, the stream and the native cache come from, which keywords are launch
options, the int classes of the key, how to read the launcher prefix off a compiled kernel, and
how to call Triton's own ``run``.

The fast key refines Triton's 2.x key ``(version, sig_key, constexpr_key, spec_key, options...,
debug)`` (and ``fn.cache`` is per device, so the device is in it too):

* tensors: dtype and 16-byte alignment; on 2.1-2.2 also whether Triton would conclude a CUDA
  device type from it (Triton infers the device type per launch from ``_device_of`` and
  ``_pinned_memory_of`` of every argument; a tensor on another device or in pinned host memory
  gets its own key component, and its first launch goes through Triton);
* ints: ``== 1``, divisibility by 16 (and by 8 on 2.2-2.3), i32/i64/u64 range class;
  bools, floats, ``None`` by kind (bools by value); constexprs by type and value;
* the option keywords exactly as passed, in order (2.2's per-launch ``num_stages`` default
  depends on the device's capability: the device index in the key refines it), and ``fn.debug``.

A native 2.x key is a tuple of dtypes, strings and (2.3) a frozen dataclass: hashing it costs
0.3-0.8 us. A hit checks that Triton's cache still holds the compiled kernel under its native key
through a :class:`KeyProbe`, which carries the key's hash and compares by identity first.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from types import MethodType
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

import triton

from .. import _cache, _codegen, _slot
from . import _common
from .._errors import Stale
from ._common import FLOAT

__all__ = ["Flavor", "Runtime", "KeyProbe", "layout", "build", "build_forwarder", "floor", "patch_targets",
           "RunOverride", "torch_device_functions"]


class KeyProbe:
    """Looks up Triton's native key without rehashing it: the same hash, and equal to the key it
    was made from (by identity first, so a hit never compares the tuples)."""

    __slots__ = ("key", "hash")

    def __init__(self, key: Any) -> None:
        self.key = key
        self.hash = hash(key)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: Any) -> bool:
        return other is self.key or other == self.key

    def __repr__(self) -> str:
        return f"KeyProbe({self.key!r})"


class Runtime(NamedTuple):
    """What one kernel's launcher reads on every launch, found when the launcher is built."""

    get_device: Callable[[], int]
    get_stream: Callable[[int], int]
    # 2.1-2.2: the functions Triton infers the device type with; None on 2.3 (no inference)
    device_of: Optional[Callable[[Any], str]]
    pinned_of: Optional[Callable[[Any], bool]]
    # the dict of per-device dicts Triton looks kernels up in: an expression of the generated
    # code, and a callable returning the same object for the slow path
    native_cache_expr: str
    native_cache: Callable[[], Any]
    # an expression that is true when what the launcher captured is no longer Triton's (-> Stale)
    stale: str
    namespace: Dict[str, Any]


class Flavor:
    """One 2.x release's launch path, as the generator needs it (subclassed by each backend)."""

    #: the compiled kernel class (its ``launch_enter_hook``/``launch_exit_hook`` are passed as-is)
    compiled_type: type = object
    #: names of the launcher's metadata slots between the grid and the stream
    meta: Tuple[str, ...] = ()
    #: the inline int class expression (``_common.INT_CODE`` or ``INT_CODE_MOD8``)
    int_code: str = _common.INT_CODE
    #: keyword arguments of ``kernel[grid](...)`` that send the launch through Triton's own path
    native_options: FrozenSet[str] = frozenset()
    #: names a kernel parameter must not have (Triton would take them as launch options)
    reserved: FrozenSet[str] = frozenset()

    def parameters(self, kernel: Any) -> List[inspect.Parameter]:
        """The kernel's parameters with the default values Triton applies."""
        return list(inspect.signature(kernel.fn).parameters.values())

    def runtime(self, kernel: Any) -> Runtime:
        raise NotImplementedError

    def unsupported(self, kernel: Any) -> Optional[str]:
        """Why this kernel cannot have a fast launcher, before its parameters are read (None: it can)."""
        return None

    def launch_entry(self, compiled: Any) -> Tuple[Callable[..., Any], Any, Tuple[Any, ...]]:
        """``(launcher, function handle, metadata values in launcher order)``."""
        raise NotImplementedError

    def uncacheable(self, compiled: Any) -> Optional[str]:
        """Why no launch of ``compiled``'s kernel can be cached (None: they can)."""
        return None

    def triton_run(self, kernel: Any) -> Callable[..., Any]:
        """2.1-2.2: Triton's own ``run`` of ``kernel``, bound."""
        raise NotImplementedError

    def call_triton(self, kernel: Any, args: tuple, grid: Any, options: dict, warmup: Any = False) -> Any:
        """Triton's own (unpatched) ``kernel[grid](*args, **options)``; ``warmup`` compiles only.

        2.1-2.2: ``kernel[grid]`` is ``functools.partial(run, grid=grid)`` and ``grid``/``warmup``
        are plain keywords of ``run``, so the options may hold them too (the option wins, as in
        ``partial``)."""
        kwargs = {"grid": grid, **options}
        if warmup:
            kwargs["warmup"] = warmup
        return self.triton_run(kernel)(*args, **kwargs)

    def run(self, kernel: Any, *args: Any, grid: Any, warmup: Any, **options: Any) -> Any:
        """Triton's own run with 3.x's signature (for ``_common.patch_targets``)."""
        return self.call_triton(kernel, args, grid, options, warmup)

    # ------------------------------------------------------------ the Backend protocol
    # (backends/__init__.py). A 2.x backend module binds these: see :meth:`protocol`.

    #: the release's ``JITFunction`` class
    jit_function: type = object
    #: 2.3: ``run(self, *args, grid, warmup, **kwargs)``; 2.1-2.2: plain keywords with defaults
    keyword_only: bool = False

    def protocol(self) -> Tuple[Callable[..., Any], ...]:
        """``is_kernel, native, build, build_forwarder, floor, patch_targets`` of a module."""
        return self.is_kernel, self.native, self.build, self.build_forwarder, self.floor, self.patch_targets

    def is_kernel(self, obj: Any) -> bool:
        return type(obj) is self.jit_function

    def native(self, kernel: Any, grid: Any, args: tuple, kwargs: dict) -> Any:
        """Launch through Triton's own (unpatched) path."""
        return self.call_triton(kernel, args, grid, kwargs)

    def build(self, kernel: Any, *, verify: bool, max_entries: int, sample: Any = None) -> Any:
        """Generate the fast launcher of ``kernel`` (see :func:`build`)."""
        return build(kernel, self, verify=verify, max_entries=max_entries, sample=sample)

    def build_forwarder(self, kernel: Any, reason: str) -> Any:
        """A launcher that always goes through Triton's own run, counted under ``reason``."""
        return build_forwarder(kernel, self, reason)

    def floor(self, kernel: Any, compiled: Any, grid: Any, args: tuple, kwargs: dict, stream: int) -> Callable[[], Any]:
        """The compiled kernel's launcher with prebuilt arguments and no hooks (benchmark floor)."""
        return floor(kernel, self, compiled, grid, args, kwargs, stream)

    def patch_targets(self, fast_launch: Any, resolve: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
        """``(owner, attribute, replacement)`` triples that ``patch()`` installs."""
        return patch_targets(self.jit_function, self, self.keyword_only, fast_launch, resolve, switch)


def layout(flavor: Flavor) -> Dict[str, Any]:
    """``LAUNCHER_LAYOUT`` of a 2.x backend: gx, gy, gz, *meta, stream, function, enter, exit,
    compiled kernel, *non-constexpr args."""
    stream = 3 + len(flavor.meta)
    return {"stream_slot": stream, "function_slot": stream + 1, "hook_slots": (stream + 2, stream + 3),
            "args_slot": stream + 5}


def _is_triton_function(fn: Any, qualname: str) -> bool:
    return getattr(fn, "__module__", None) == "triton.runtime.jit" and getattr(fn, "__qualname__", None) == qualname


def torch_device_functions(get_device: Any, get_stream: Any) -> Tuple[Any, Any]:
    """Replace the torch-backed device/stream functions Triton calls by the torch C functions
    they end in; anything else (a fake driver, another framework) is kept as it is.

    2.1-2.2 call ``triton.runtime.jit.get_current_device`` / ``get_cuda_stream`` (``import torch``
    on every call); 2.3's driver binds ``torch.cuda.current_device`` itself. A launcher only hits
    after a native launch initialised CUDA, so ``torch._C._cuda_getDevice`` alone is the same read
    as ``torch.cuda.current_device()``.
    """
    torch = sys.modules.get("torch")
    torch_c = getattr(torch, "_C", None)
    current_device = getattr(getattr(torch, "cuda", None), "current_device", None)
    if ((get_device is current_device or _is_triton_function(get_device, "get_current_device"))
            and hasattr(torch_c, "_cuda_getDevice")):
        get_device = torch_c._cuda_getDevice
    if _is_triton_function(get_stream, "get_cuda_stream") and hasattr(torch_c, "_cuda_getCurrentRawStream"):
        get_stream = torch_c._cuda_getCurrentRawStream
    return get_device, get_stream


def _device_value_key(device_of: Callable[[Any], str], pinned_of: Callable[[Any], bool]) -> Callable[..., Any]:
    """2.1-2.2: :func:`_common.value_key` with what Triton infers the device type from: a
    tensor-like value's device type, and whether it is pinned when it is not on a CUDA device."""

    def value_key(v: Any, tensor: type, tuples: bool) -> Any:
        if hasattr(v, "data_ptr"):
            device = device_of(v)
            return (type(v), v.dtype, not v.data_ptr() & 15, device, device != "cuda" and pinned_of(v))
        return _common.value_key(v, tensor, tuples)

    return value_key


def build(kernel: Any, flavor: Flavor, *, verify: bool, max_entries: int, sample: Any = None) -> Tuple[Any, Any]:
    """Generate the fast launcher of one 2.x kernel. ``sample`` (the first launch's
    ``(args, kwargs)``) orders each parameter's type tests (see ``_common.value_key_expr``)."""
    reason = flavor.unsupported(kernel)
    if reason is not None:
        return build_forwarder(kernel, flavor, reason), None
    params = flavor.parameters(kernel)
    names = [p.name for p in params]
    reason = _common.unsupported_parameters(params)
    if reason is None and flavor.reserved.intersection(names):
        reason = "parameter named like a launch option"
    if reason is not None:
        return build_forwarder(kernel, flavor, reason), None

    rt = flavor.runtime(kernel)
    cache = _cache.KernelCache(kernel.fn.__qualname__, max_entries)
    state = _State(flavor, rt, kernel, cache)
    ns: Dict[str, Any] = {
        "_tc_fn": kernel, "_tc_cache": cache, "_tc_entries_get": cache.entries.get, "_tc_hit": cache.hits.__next__,
        "_tc_get_device": rt.get_device, "_tc_get_stream": rt.get_stream, "_tc_CK": flavor.compiled_type,
        "_tc_Tensor": _common.tensor_type(), "_tc_FLOAT": FLOAT, "_tc_Stale": Stale, "_tc_device_of": rt.device_of,
        "_tc_value_key": (_common.value_key if rt.device_of is None else _device_value_key(rt.device_of, rt.pinned_of)),
        "_tc_constexpr_key": _common.constexpr_key, "_tc_options_key": _common.options_key,
        "_tc_slow": state.slow, "_tc_verify": state.verify,
    }
    ns.update(rt.namespace)

    sig = _common.def_parameters(params, ns)
    constexprs = {kernel.arg_names[i] for i in kernel.constexprs}
    args_tuple = f"({', '.join(names)},)" if names else "()"

    # 2.1-2.2: Triton concludes "cuda" from a CUDA tensor; with its own _device_of that is is_cuda.
    if rt.device_of is None:
        tensor_test = ""
    elif _is_triton_function(rt.device_of, "JITFunction._device_of"):
        tensor_test = " and {v}.is_cuda"
    else:
        tensor_test = " and _tc_device_of({v}) == 'cuda'"
    seen = _common.sample_types(inspect.Signature(params), sample)
    key = ["_tc_dev"]
    for n in names:
        if n in constexprs:
            key.append(f"{n} if type({n}) is int else _tc_constexpr_key({n})")
        else:
            key.append(_common.value_key_expr(n, seen.get(n), False, flavor.int_code, tensor_test))
    key.append("_tc_options_key(_tc_options) if _tc_options else ()")  # _State.native_reason reads it
    key.append("_tc_fn.debug")

    meta = ", ".join(f"_tc_{m}" for m in flavor.meta)
    grid_dict = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    trailing = "".join(f", {n}" for n in names if n not in constexprs)
    lines = [
        f"def {kernel.fn.__name__}(_tc_grid, {', '.join(sig + ['**_tc_options'])}):",
        *_common.key_lines(rt.stale, key, args_tuple),
        "    if _tc_entry is None or _tc_grid is None:",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        f"    _tc_kref, _tc_probe, _tc_dcache, _tc_launch, _tc_function, {meta} = _tc_entry",
        # the entry holds the compiled kernel weakly: dead once Triton dropped it
        f"    if (_tc_kernel := _tc_kref()) is None or {rt.native_cache_expr}.get(_tc_dev) is not _tc_dcache"
        " or _tc_dcache.get(_tc_probe) is not _tc_kernel:",
        f"        return _tc_slow(None, _tc_key, _tc_dev, _tc_grid, {args_tuple}, _tc_options)",
        "    _tc_hit()",
        *([f"    _tc_verify(_tc_entry, _tc_dev, _tc_grid, {args_tuple}, _tc_options)"] if verify else []),
        "    _tc_stream = _tc_get_stream(_tc_dev)",
        "    if callable(_tc_grid):",
        f"        _tc_grid = _tc_grid({grid_dict})",
        "    _tc_n = len(_tc_grid)",
        "    _tc_launch(_tc_grid[0], _tc_grid[1] if _tc_n > 1 else 1, _tc_grid[2] if _tc_n > 2 else 1, "
        f"{meta}, _tc_stream, _tc_function, _tc_CK.launch_enter_hook, _tc_CK.launch_exit_hook, _tc_kernel{trailing})",
        "    return _tc_kernel",
    ]
    fast = _codegen.make_function(kernel.fn.__name__, lines, ns,
                                  f"launcher {kernel.fn.__qualname__} triton-{triton.__version__}")
    return fast, cache


class _State(_common.JitState):
    """2.x: Triton's dict of the device is ``cache[device]``, looked up through a :class:`KeyProbe`;
    launch options Triton does not key on go native."""

    def __init__(self, flavor: Flavor, rt: Runtime, kernel: Any, cache: _cache.KernelCache) -> None:
        super().__init__(flavor.run, kernel, cache)
        self.flavor = flavor
        self.rt = rt
        self.compiled_type = flavor.compiled_type  # not None (a cache hook cancelled the compile)

    def native(self, grid: Any, args: tuple, options: dict, warmup: Any = False) -> Any:
        return self.flavor.call_triton(self.kernel, args, grid, options, warmup)

    run_takes_call = False  # 2.x: Triton's run is called through the flavour

    def call_triton(self, grid: Any, args: tuple, kwargs: dict) -> Any:
        return self.flavor.call_triton(self.kernel, args, grid, kwargs)

    def native_dicts(self, dev: Any) -> Optional[Tuple[Any, Dict[Any, Any]]]:
        dcache = self.rt.native_cache().get(dev)
        return None if dcache is None else (dcache, dcache)

    def native_reason(self, key: Tuple) -> Optional[str]:
        for item in key[-2]:  # the options as passed: (name, ...) items
            if item[0] in self.flavor.native_options:
                return "warmup" if item[0] == "warmup" else f"explicit {item[0]}="
        return None

    def uncacheable(self, compiled: Any) -> Optional[str]:
        return self.flavor.uncacheable(compiled)

    def forwarder(self, reason: str) -> Callable[..., Any]:
        return build_forwarder(self.kernel, self.flavor, reason)

    def entry(self, compiled: Any, nkey: Any, container: Any) -> Tuple:
        launcher, function, meta = self.flavor.launch_entry(compiled)
        return (weakref.ref(compiled), KeyProbe(nkey), container, launcher, function, *meta)

    def verify(self, entry, dev, grid, args, options):
        # The 2.x grid is not in the key, and a warmup evaluates it: pass a constant one, so the
        # user's grid callable runs once per launch, as without verification.
        super().verify(entry, dev, (1,), args, options)


def build_forwarder(kernel: Any, flavor: Flavor, reason: str) -> Any:
    """A launcher that always goes through Triton's own run, counted under ``reason``."""

    def forward(grid, *args, **kwargs):
        _cache.count_fallback(reason)
        return flavor.call_triton(kernel, args, grid, kwargs)

    return forward


def floor(kernel: Any, flavor: Flavor, compiled: Any, grid: Any, args: tuple, kwargs: dict, stream: int) -> Callable[[], Any]:
    """The compiled kernel's launcher with prebuilt arguments and no hooks (the benchmark's floor)."""
    params = flavor.parameters(kernel)
    bound = inspect.Signature(params).bind(*args, **{k: v for k, v in kwargs.items() if k in {p.name for p in params}})
    bound.apply_defaults()
    constexprs = {kernel.arg_names[i] for i in kernel.constexprs}
    values = tuple(v for name, v in bound.arguments.items() if name not in constexprs)
    launcher, function, meta = flavor.launch_entry(compiled)
    gx, gy, gz = (tuple(grid) + (1, 1))[:3]
    call = (gx, gy, gz, *meta, stream, function, None, None, compiled) + values

    def floor_call() -> None:
        launcher(*call)

    return floor_call


# ---------------------------------------------------------------- patch()


def patch_targets(jit_function: type, flavor: Flavor, keyword_only: bool, fast_launch: Any,
                  resolve: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
    """``JITFunction.run`` and ``__getitem__`` replacements (``_common.patch_targets``).

    2.3's ``run`` takes ``grid``/``warmup`` as required keywords, like 3.x; 2.1-2.2's as plain
    keywords with defaults (``grid=None`` goes to Triton, which asserts), so their ``run`` is a
    thin wrapper with that signature.
    """
    (owner, name, run_kw), getitem = _common.patch_targets(jit_function, flavor.run, fast_launch, resolve, switch)
    if keyword_only:
        return [(owner, name, run_kw), getitem]

    def run(self, *args, grid=None, warmup=False, **kwargs):
        return run_kw(self, *args, grid=grid, warmup=warmup, **kwargs)

    run.__qualname__ = "JITFunction.run"
    run.__doc__ = "Launch like Triton's own run, through tritoncompat's fast path (``tritoncompat.patch()``)."
    return [(owner, name, run), getitem]


_NOTHING = object()


class RunOverride:
    """2.1: ``JITFunction.run`` while patched.

    Each 2.1 kernel keeps its generated ``run`` in its instance ``__dict__`` (set in ``__init__``),
    so replacing a class attribute changes nothing. A *data* descriptor on the class does: it takes
    precedence over the instance ``__dict__`` on every lookup, so ``kernel.run`` reaches the fast
    path for kernels decorated before and after ``patch()``, while assignments (``__init__``'s
    ``self.run = ...``) still land in the instance ``__dict__``. No instance is modified, so
    ``unpatch()`` removing the class attribute restores every kernel.
    """

    def __init__(self, run: Callable[..., Any]) -> None:
        self.run = run
        self.__doc__ = run.__doc__

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        own = obj.__dict__.get("run", _NOTHING)
        if own is not _NOTHING and own is not obj.__dict__.get(_slot.TRITON_RUN_ATTR, _NOTHING) \
                and not _common.generated_run(own):
            return own  # replaced on the instance (kernel.run = ...): that is what natively runs
        return MethodType(self.run, obj)

    def __set__(self, obj: Any, value: Any) -> None:
        own = obj.__dict__.get("run")
        if own is not None and _common.generated_run(own):  # the only way back to Triton's own path
            obj.__dict__[_slot.TRITON_RUN_ATTR] = own
        obj.__dict__["run"] = value

    def __delete__(self, obj: Any) -> None:
        del obj.__dict__["run"]
