"""One import for what moved between Triton releases (host side).

Kernel packages carry their own copies of the same version branches; this module answers them
once, from the installed Triton, on every release 2.1.0 - 3.9.0:

* :func:`has` -- is a feature there? Each answer comes from a probe of the installed release
  (an import, an attribute, a signature), never from a version table;
* :func:`ensure_allocator` / :func:`allocator` -- ``triton.set_allocator`` without clobbering;
* :func:`target` / :func:`device_properties` -- backend, arch, warp size, SM count, shared memory;
* :func:`Config` / :func:`autotune` / :func:`do_bench` -- the union of every release's keywords.

It imports Triton only when one of them is called (``import tritoncompat`` stays free of it), and
never the launch machinery. The device-side half is ``tritoncompat.language``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import threading
import warnings
from contextvars import ContextVar
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from . import _errors, _version

__all__ = ["FEATURES", "has", "probe_all", "tensor_descriptor_class", "ensure_allocator", "allocator", "Target",
           "target", "device_properties", "Config", "autotune", "do_bench", "CONFIG_KEYWORDS",
           "AUTOTUNE_KEYWORDS", "DO_BENCH_KEYWORDS"]


def _release_text() -> str:
    return f"Triton {_version.triton_version()}"


# ----------------------------------------------------------------------------------- has()
def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _attr(module: str, *names: str) -> Callable[[], bool]:
    def probe() -> bool:
        found = _module(module)
        return found is not None and all(hasattr(found, n) for n in names)
    return probe


def _importable(module: str) -> Callable[[], bool]:
    return lambda: _module(module) is not None


def _keyword(where: str, function: str, keyword: str) -> Callable[[], bool]:
    def probe() -> bool:
        return keyword in _parameters(getattr(importlib.import_module(where), function))
    return probe


def _block_ptr() -> bool:
    # 3.9 keeps tl.make_block_ptr, but its body only raises NotImplementedError (triton #10811);
    # every earlier release goes on to the builder/semantic and fails there on these dummies.
    import triton.language as tl

    make = getattr(tl, "make_block_ptr", None)
    body = getattr(make, "__wrapped__", None)
    if body is None:
        return False
    try:
        with warnings.catch_warnings():     # 3.7-3.8 warn that block pointers are deprecated
            warnings.simplefilter("ignore")
            body(None, None, None, None, None, None)
    except NotImplementedError:
        return False
    except Exception:
        return True
    return True


def _tensor_descriptor() -> bool:
    import triton.language as tl

    # 3.3: tl._experimental_make_tensor_descriptor; 3.4+: tl.make_tensor_descriptor
    return hasattr(tl, "make_tensor_descriptor") or hasattr(tl, "_experimental_make_tensor_descriptor")


def _constexpr_function() -> bool:
    import triton

    return hasattr(triton, "constexpr_function") or hasattr(_module("triton.runtime.jit"), "constexpr_function")


# name -> (what it is, where it lives, probe). The README table "has() by release" is generated
# from these probes run in every release's env (.ci/compat-table); tests/test_compat.py checks
# that the table's row for the installed release is what the probes answer.
FEATURES: Dict[str, Tuple[str, Callable[[], bool]]] = {
    "block_ptr": ("tl.make_block_ptr / tl.advance usable in a kernel", _block_ptr),
    "tensor_descriptor": ("device-side tl.make_tensor_descriptor (3.3: _experimental_)", _tensor_descriptor),
    "tensor_descriptor_host": ("host-side triton.tools.tensor_descriptor.TensorDescriptor",
                               _attr("triton.tools.tensor_descriptor", "TensorDescriptor")),
    "experimental_descriptor": ("triton.tools.experimental_descriptor (create_1d/2d_tma_descriptor)",
                                _attr("triton.tools.experimental_descriptor", "create_2d_tma_descriptor")),
    "set_allocator": ("triton.set_allocator", _attr("triton", "set_allocator")),
    "gather": ("tl.gather", _attr("triton.language", "gather")),
    "topk": ("tl.topk", _attr("triton.language", "topk")),
    "cast": ("tl.cast", _attr("triton.language", "cast")),
    "fma": ("tl.fma", _attr("triton.language", "fma")),
    "range": ("tl.range", _attr("triton.language", "range")),
    "histogram": ("tl.histogram", _attr("triton.language", "histogram")),
    "inline_asm_elementwise": ("tl.inline_asm_elementwise", _attr("triton.language", "inline_asm_elementwise")),
    "libdevice_math": ("libdevice functions in tl.math (tl.math.tanh ...)", _attr("triton.language.math", "tanh")),
    "libdevice_extra": ("triton.language.extra.libdevice", _importable("triton.language.extra.libdevice")),
    "knobs": ("triton.knobs", _importable("triton.knobs")),
    "gluon": ("triton.experimental.gluon", _importable("triton.experimental.gluon")),
    "constexpr_function": ("triton.constexpr_function / triton.runtime.jit.constexpr_function",
                           _constexpr_function),
    "target_info": ("triton.language.target_info", _importable("triton.language.target_info")),
    "ops": ("triton.ops (matmul, attention; removed upstream)", _importable("triton.ops")),
    "config_num_ctas": ("triton.Config(num_ctas=)", _keyword("triton.runtime.autotuner", "Config", "num_ctas")),
    "config_maxnreg": ("triton.Config(maxnreg=)", _keyword("triton.runtime.autotuner", "Config", "maxnreg")),
    "config_ir_override": ("triton.Config(ir_override=)",
                           _keyword("triton.runtime.autotuner", "Config", "ir_override")),
    "autotune_use_cuda_graph": ("triton.autotune(use_cuda_graph=)",
                                _keyword("triton.runtime.autotuner", "autotune", "use_cuda_graph")),
    "autotune_do_bench": ("triton.autotune(do_bench=)", _keyword("triton.runtime.autotuner", "autotune", "do_bench")),
    "autotune_cache_results": ("triton.autotune(cache_results=)",
                               _keyword("triton.runtime.autotuner", "autotune", "cache_results")),
    "do_bench_fast_flush": ("triton.testing.do_bench(fast_flush=)",
                            _keyword("triton.testing", "do_bench", "fast_flush")),
}

_HAS: Dict[str, bool] = {}


def has(feature: str) -> bool:
    """Whether the installed Triton has ``feature`` (one of :data:`FEATURES`), probed once.

    >>> tritoncompat.has("tensor_descriptor")  # doctest: +SKIP
    True

    :raises ValueError: ``feature`` is not a name of :data:`FEATURES` (the message lists them).
    """
    try:
        return _HAS[feature]
    except (KeyError, TypeError):
        pass
    if not isinstance(feature, str) or feature not in FEATURES:
        raise ValueError(f"tritoncompat.has(feature={feature!r}): unknown feature; the probed ones are "
                         + ", ".join(sorted(FEATURES)))
    answer = _HAS[feature] = bool(FEATURES[feature][1]())
    return answer


def probe_all() -> Dict[str, bool]:
    """Every probe's answer on the installed release (``.ci/compat-table`` writes them into the
    README)."""
    return {name: has(name) for name in FEATURES}


# ----------------------------------------------------------------------------- allocator
_ALLOCATOR_LOCK = threading.Lock()


def _allocation():
    """Triton's allocator module (3.3+), or None where ``triton.set_allocator`` does not exist."""
    import triton

    if not hasattr(triton, "set_allocator"):
        return None
    return importlib.import_module(triton.set_allocator.__module__)


def _current(module) -> Any:
    # 3.3-3.4: a module global, one for the process; 3.5+: a ContextVar, one per thread (a new
    # thread starts with the NullAllocator) and per asyncio task.
    held = module._allocator
    return held.get() if isinstance(held, ContextVar) else held


def _check_allocator(fn: Any, where: str) -> None:
    if not callable(fn):
        raise TypeError(f"tritoncompat.{where}(fn=...): the allocator must be callable as "
                        f"fn(size, alignment, stream) -> buffer with data_ptr(), got {type(fn).__name__} {fn!r}")


def ensure_allocator(fn: Callable[[int, int, Optional[int]], Any]) -> bool:
    """Set Triton's allocator to ``fn`` unless one is already set; return whether it set it.

    Two libraries that both call this at import keep the first one's allocator and the user's
    own ``triton.set_allocator`` is never overwritten. Where Triton keeps the allocator per
    thread (3.5+, a ``ContextVar``) "already set" is per thread too: call it in each thread that
    launches. On releases without ``triton.set_allocator`` (before 3.3) it sets nothing and
    returns False (``has("set_allocator")`` says which).

    >>> tritoncompat.ensure_allocator(lambda size, align, stream: torch.empty(size, dtype=torch.int8, device="cuda"))  # doctest: +SKIP
    True

    :raises TypeError: ``fn`` is not callable (nothing is changed).
    """
    _check_allocator(fn, "ensure_allocator")
    module = _allocation()
    if module is None:
        return False
    with _ALLOCATOR_LOCK:
        if not isinstance(_current(module), module.NullAllocator):
            return False
        module.set_allocator(fn)
        return True


@contextlib.contextmanager
def allocator(fn: Callable[[int, int, Optional[int]], Any]):
    """``with tritoncompat.allocator(fn):`` Triton's allocator is ``fn`` inside the block and
    what it was before after it (exception or not). On 3.3-3.4 the allocator is one for the
    process, so another thread's launches inside the block use ``fn`` too; on 3.5+ only this
    thread's. A no-op before 3.3.

    :raises TypeError: ``fn`` is not callable (nothing is changed).
    """
    _check_allocator(fn, "allocator")
    module = _allocation()
    if module is None:
        yield
        return
    with _ALLOCATOR_LOCK:
        previous = _current(module)
        module.set_allocator(fn)
    try:
        yield
    finally:
        with _ALLOCATOR_LOCK:
            module.set_allocator(previous)


# ------------------------------------------------------------------ host tensor descriptor
class _NoTensorDescriptor:
    """``tritoncompat.TensorDescriptor`` on a release without ``triton.tools.tensor_descriptor``
    (before 3.4): importable, so that a module can import it unconditionally and gate its use on
    ``has("tensor_descriptor_host")``; building one raises."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _no_tensor_descriptor()

    @classmethod
    def from_tensor(cls, *args: Any, **kwargs: Any) -> Any:
        _no_tensor_descriptor()


def _no_tensor_descriptor():
    raise _errors.TritonCompatError(
        f"tritoncompat.TensorDescriptor: {_release_text()} has no triton.tools.tensor_descriptor (host-side "
        "tensor descriptors are 3.4+; 3.2 - 3.3 have triton.tools.experimental_descriptor); gate on "
        "tritoncompat.has('tensor_descriptor_host')")


def tensor_descriptor_class() -> type:
    """``triton.tools.tensor_descriptor.TensorDescriptor`` (3.4+), else a class whose
    construction raises :class:`~tritoncompat.TritonCompatError` naming the release."""
    try:
        from triton.tools.tensor_descriptor import TensorDescriptor
    except ImportError:
        return _NoTensorDescriptor
    return TensorDescriptor


# ----------------------------------------------------------------------- target, device
class Target(NamedTuple):
    """What Triton compiles for on the current device: ``backend`` (``"cuda"``, ``"hip"``, ...),
    ``arch`` (an int compute capability such as 90 on CUDA, a string such as ``"gfx942"`` on
    HIP) and ``warp_size``."""

    backend: str
    arch: Any
    warp_size: int


def _driver():
    """``(True, driver.active)`` on 3.0+, ``(False, the driver LazyProxy)`` on 2.x: the objects
    Triton itself launches through, which create the driver the way Triton does on first use."""
    from triton.runtime import driver as config

    if hasattr(type(config), "set_active"):     # 3.0+: triton.runtime.driver is a DriverConfig
        return True, config.active
    return False, importlib.import_module("triton.runtime.driver").driver


def target() -> Target:
    """The target Triton compiles for on the current device, read from Triton's own active driver
    (created by Triton as for a launch, never a second one, and nothing of torch's that Triton
    would not touch itself).

    >>> tritoncompat.target()  # doctest: +SKIP
    Target(backend='cuda', arch=90, warp_size=32)
    """
    is_3x, driver = _driver()
    if is_3x:       # GPUTarget(backend, arch, warp_size)
        found = driver.get_current_target()
        return Target(found.backend, found.arch, found.warp_size)
    proxy = driver
    if hasattr(proxy, "get_current_target"):        # 2.3: ("cuda", capability) / ("hip", arch)
        backend, arch = proxy.get_current_target()[:2]
        return Target(backend, arch, 64 if backend == "hip" else 32)
    # 2.1-2.2: module functions of triton.runtime.jit; the driver says CUDA or HIP
    from triton.runtime import jit

    if getattr(proxy, "backend", 0) == getattr(proxy, "HIP", 1):
        import torch

        return Target("hip", torch.cuda.get_device_properties(jit.get_current_device()).gcnArchName, 64)
    major, minor = jit.get_device_capability(jit.get_current_device())
    return Target("cuda", major * 10 + minor, 32)


def _device_index(device: Any) -> Optional[int]:
    if device is None:
        return None
    if type(device) is int:
        index: Optional[int] = device
    elif isinstance(device, str) or type(device).__name__ == "device":  # "cuda:1", torch.device
        kind, _, number = str(device).partition(":")
        if kind not in ("cuda", "hip") or (number and not number.isdigit()):
            raise ValueError(f"tritoncompat.device_properties(device={device!r}): not a GPU device")
        index = int(number) if number else None
    else:
        raise TypeError("tritoncompat.device_properties(device=...) expects None, an int index, 'cuda:N' or a "
                        f"torch.device, got {type(device).__name__} {device!r}")
    if index is not None and index < 0:
        raise ValueError(f"tritoncompat.device_properties(device={device!r}): the index must be >= 0")
    return index


def device_properties(device: Any = None) -> Dict[str, Any]:
    """Triton's device properties of ``device`` (None: the current device), a new dict:
    ``multiprocessor_count``, ``max_shared_mem``, ``max_num_regs``, ``warpSize``,
    ``sm_clock_rate``, ``mem_clock_rate``, ``mem_bus_width`` on CUDA, as Triton's driver
    reports them on every release (2.x ``driver.utils``, 3.x ``driver.active.utils``).

    >>> tritoncompat.device_properties(0)["multiprocessor_count"]  # doctest: +SKIP
    132

    :raises TypeError, ValueError: ``device`` names no GPU device.
    """
    index = _device_index(device)
    is_3x, driver = _driver()
    if is_3x:
        current = driver.get_current_device
    else:
        if hasattr(driver, "get_current_device"):                        # 2.3
            current = driver.get_current_device
        else:                                                            # 2.1-2.2
            from triton.runtime import jit

            current = jit.get_current_device
    return dict(driver.utils.get_device_properties(current() if index is None else index))


# ------------------------------------------------------------ Config, autotune, do_bench
# Every keyword any release 2.1.0 - 3.9.0 has -> (the value under which a release without it
# behaves the same, the releases that have it). A keyword the installed release lacks is dropped:
# silently when it holds that value, with one TritonCompatWarning per keyword otherwise (an
# error in strict mode). _NO_NEUTRAL: always warn.
_NO_NEUTRAL = object()

CONFIG_KEYWORDS: Dict[str, Tuple[Any, str]] = {
    "num_warps": (_NO_NEUTRAL, "2.1+"),
    "num_stages": (_NO_NEUTRAL, "2.1+"),
    "pre_hook": (None, "2.1+"),
    "num_ctas": (1, "2.2+"),
    "enable_warp_specialization": (False, "2.2-2.3"),
    "maxnreg": (None, "3.0+"),
    "num_buffers_warp_spec": (0, "3.2-3.3"),
    "num_consumer_groups": (0, "3.2-3.3"),
    "reg_dec_producer": (0, "3.2-3.3"),
    "reg_inc_consumer": (0, "3.2-3.3"),
    "ir_override": (None, "3.4+"),
}

AUTOTUNE_KEYWORDS: Dict[str, Tuple[Any, str]] = {
    "prune_configs_by": (None, "2.1+"),
    "reset_to_zero": (None, "2.1+"),
    "restore_value": (None, "2.2+"),
    "pre_hook": (None, "3.0+"),
    "post_hook": (None, "3.0+"),
    "warmup": (None, "2.1+ (None: the release's default)"),
    "rep": (None, "2.1+ (None: the release's default)"),
    "use_cuda_graph": (False, "3.0+"),
    "do_bench": (None, "3.2+"),
    "cache_results": (False, "3.4+"),
}

DO_BENCH_KEYWORDS: Dict[str, Tuple[Any, str]] = {
    "warmup": (_NO_NEUTRAL, "2.1+"),
    "rep": (_NO_NEUTRAL, "2.1+"),
    "grad_to_none": (None, "2.1+"),
    "quantiles": (None, "2.1+"),
    "return_mode": ("mean", "2.1+"),
    # 3.2 dropped it and always flushes the L2 with the fast (int32) buffer (triton #4485)
    "fast_flush": (True, "2.1-3.1"),
    "device_type": ("cuda", "3.1"),
}

_WARNED: set = set()
_WARNED_LOCK = threading.Lock()

if hasattr(os, "register_at_fork"):  # a fork while another thread holds one must not leave it held in the child
    os.register_at_fork(after_in_child=lambda: (_ALLOCATOR_LOCK._at_fork_reinit(), _WARNED_LOCK._at_fork_reinit()))


def _parameters(function) -> Dict[str, inspect.Parameter]:
    target = function.__init__ if isinstance(function, type) else function
    return dict(inspect.signature(target).parameters)


def _strict(strict: Optional[bool]) -> bool:
    if strict is not None:
        return bool(strict)
    return os.environ.get("TRITONCOMPAT_STRICT", "0").strip().lower() in ("1", "true", "yes", "on", "y")


def _filter(api: str, function, union: Dict[str, Tuple[Any, str]], keywords: Dict[str, Any],
            strict: Optional[bool]) -> Dict[str, Any]:
    """The keywords the installed ``function`` accepts; checks everything before warning once."""
    unknown = [name for name in keywords if name not in union]
    if unknown:
        raise TypeError(f"tritoncompat.{api}() got an unexpected keyword argument {unknown[0]!r}: no Triton "
                        f"release 2.1.0 - 3.9.0 has it (known: {', '.join(union)})")
    accepted = _parameters(function)
    kept, dropped = {}, []
    for name, value in keywords.items():
        if name in accepted:
            kept[name] = value
            continue
        neutral = union[name][0]
        if neutral is not _NO_NEUTRAL and (value is neutral or (type(value) is type(neutral) and value == neutral)):
            continue
        dropped.append(name)
    if dropped and _strict(strict):
        raise TypeError(f"tritoncompat.{api}(): {_release_text()} has no keyword {dropped[0]!r} (it is in "
                        f"Triton {union[dropped[0]][1]}); strict mode refuses to drop it")
    for name in dropped:
        with _WARNED_LOCK:
            if (api, name) in _WARNED:
                continue
            _WARNED.add((api, name))
        warnings.warn(f"tritoncompat.{api}(): {_release_text()} has no keyword {name!r} (it is in Triton "
                      f"{union[name][1]}); dropped {name}={keywords[name]!r}", _errors.TritonCompatWarning,
                      stacklevel=_errors.user_stacklevel())
    return kept


def Config(kwargs: Dict[str, Any], num_warps: Any = _NO_NEUTRAL, num_stages: Any = _NO_NEUTRAL, *,
           strict: Optional[bool] = None, **keywords: Any):
    """A ``triton.Config`` of the installed release from the keywords of any release
    (:data:`CONFIG_KEYWORDS`): those the release lacks are dropped (silently when they hold the
    value that means "unused", e.g. ``num_ctas=1``; otherwise with one warning per keyword, or
    ``TypeError`` with ``strict=True`` / ``TRITONCOMPAT_STRICT=1``). ``num_warps`` and
    ``num_stages`` default to the release's defaults (``num_stages``: 2 before 3.3, 3 after).

    >>> tritoncompat.Config({"BLOCK": 128}, num_warps=4, maxnreg=128, ir_override=None)  # doctest: +SKIP

    :raises TypeError: a keyword no release has, or a dropped one in strict mode.
    """
    from triton.runtime.autotuner import Config as native

    for name, value in (("num_warps", num_warps), ("num_stages", num_stages)):
        if value is not _NO_NEUTRAL:
            keywords[name] = value
    return native(kwargs, **_filter("Config", native, CONFIG_KEYWORDS, keywords, strict))


def autotune(configs, key, *, strict: Optional[bool] = None, **keywords: Any):
    """``triton.autotune`` of the installed release with the keywords of any release
    (:data:`AUTOTUNE_KEYWORDS`); those it lacks are dropped as in :func:`Config`. ``warmup`` /
    ``rep`` of ``None`` mean the release's default (25 / 100 before 3.2).

    >>> @tritoncompat.autotune(configs, key=["n"], cache_results=True, use_cuda_graph=False)  # doctest: +SKIP
    ... @triton.jit
    ... def kernel(...): ...

    :raises TypeError: a keyword no release has, or a dropped one in strict mode.
    """
    from triton.runtime.autotuner import autotune as native

    accepted = _parameters(native)
    for name in ("warmup", "rep"):
        # 2.1-3.1 default to 25 / 100 and do arithmetic on them: None there means "the default"
        if name in keywords and keywords[name] is None and accepted[name].default is not None:
            del keywords[name]
    return native(configs, key, **_filter("autotune", native, AUTOTUNE_KEYWORDS, keywords, strict))


def do_bench(fn: Callable[[], Any], warmup: int = 25, rep: int = 100, grad_to_none=None, quantiles=None, *,
             strict: Optional[bool] = None, **keywords: Any):
    """``triton.testing.do_bench`` with one signature on every release: ``fast_flush`` (2.1-3.1;
    3.2+ always flush fast), ``device_type`` (3.1) and ``return_mode`` are accepted everywhere
    and dropped, as in :func:`Config`, where the release lacks them.

    >>> ms = tritoncompat.do_bench(lambda: kernel[grid](x, n), quantiles=[0.5, 0.2, 0.8])  # doctest: +SKIP

    :raises TypeError: a keyword no release has, or a dropped one in strict mode.
    """
    from triton import testing

    keywords.update(warmup=warmup, rep=rep, grad_to_none=grad_to_none, quantiles=quantiles)
    return testing.do_bench(fn, **_filter("do_bench", testing.do_bench, DO_BENCH_KEYWORDS, keywords, strict))
