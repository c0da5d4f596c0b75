"""Pieces shared by the backends: the value classes of the fast key, and the small helpers that
generated launchers call off the hot path."""

from __future__ import annotations

import ast
import inspect
import os
import sys
import weakref
from functools import partial
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .. import _accel, _cache, _codegen, _slot
from . import _direct
from .._errors import Stale, TritonCompatVerifyError, Unsupported

__all__ = [
    "Unsupported", "Stale", "FLOAT", "INT_CODE", "int_code", "value_key", "constexpr_key",
    "options_key", "tensor_type", "check_globals", "INT_CODE_MOD8", "int_code_mod8",
    "unsupported_parameters", "def_parameters", "key_lines", "hit_lines", "driver_functions", "forwarder",
    "JitState", "patch_targets", "NATIVE", "register_native", "is_tritons", "tritons_own", "intact",
    "through_run", "Switch", "triton_run", "register_wrapper_runs",
]


# Key of a float argument: every release passes Python floats as fp32 and does not specialise
# on their value.
FLOAT = "fp32"

# The int classes of every release: i32 / i64 / u64 by range (3.6+ raises beyond 64 bits, older
# releases fail later: either way a miss, and Triton's own path raises). Code = 2*class + D bit
# (divisible by 16); ``== 1`` has its own code (3.3+ turns it into a constexpr). Generated
# launchers inline this expression; :func:`int_code` is the reference it must equal.
INT_CODE = (
    "(16 if {v} == 1 else (not {v} & 15) + ("
    "0 if -0x80000000 <= {v} <= 0x7fffffff else "
    "2 if -0x8000000000000000 <= {v} <= 0x7fffffffffffffff else "
    "4 if 0 <= {v} <= 0xffffffffffffffff else 6))"
)


# Key of an int of a do_not_specialize parameter where Triton keys it by its range class alone (3.3+:
# specialize_impl(..., specialize_value=False) drops the == 1 constexpr and the divisibility): the
# class of INT_CODE without its D bit and without the == 1 code. int_class is its reference.
INT_CLASS = (
    "(0 if -0x80000000 <= {v} <= 0x7fffffff else "
    "2 if -0x8000000000000000 <= {v} <= 0x7fffffffffffffff else "
    "4 if 0 <= {v} <= 0xffffffffffffffff else 6)"
)


def int_class(v: int) -> int:
    code = int_code(v)
    return 0 if code == 16 else code & ~1


def int_code(v: int) -> int:
    if v == 1:
        return 16
    if -(2**31) <= v <= 2**31 - 1:
        cls = 0
    elif -(2**63) <= v <= 2**63 - 1:
        cls = 2
    elif 0 <= v <= 2**64 - 1:
        cls = 4
    else:
        cls = 6
    return (v % 16 == 0) + cls


# 2.2-2.3 also specialise ints on divisibility by 8 (``KernelArg.specialization_key``): 8 is added
# when the value is divisible by 8. Codes stay below 16, so ``== 1`` keeps its own code.
INT_CODE_MOD8 = (
    "(16 if {v} == 1 else (not {v} & 15) + (not {v} & 7) * 8 + ("
    "0 if -0x80000000 <= {v} <= 0x7fffffff else "
    "2 if -0x8000000000000000 <= {v} <= 0x7fffffffffffffff else "
    "4 if 0 <= {v} <= 0xffffffffffffffff else 6))"
)


def int_code_mod8(v: int) -> int:
    code = int_code(v)
    return code if code == 16 else code + (v % 8 == 0) * 8


def sample_types(signature: Any, sample: Any) -> Dict[str, type]:
    """Parameter name -> type of the value the first launch passed (empty if it did not bind)."""
    if sample is None:
        return {}
    args, kwargs = sample
    try:  # option keywords (num_warps=...) are not parameters
        bound = signature.bind(*args, **{k: v for k, v in kwargs.items() if k in signature.parameters})
    except TypeError:
        return {}
    return {name: type(value) for name, value in bound.arguments.items()}


def value_key_expr(name: str, seen: Any, tuples: bool, int_code: str = INT_CODE, tensor_test: str = "") -> str:
    """Inline source of :func:`value_key` for parameter ``name``: the exact-type tests of the
    common kinds, the kind ``seen`` on the first launch tested first, then the general function.

    ``int_code``: the int class expression (2.2-2.3: :data:`INT_CODE_MOD8`); ``tensor_test``: a
    further condition (``{v}`` is the value) for a tensor to be keyed by its dtype alone.
    """
    branches = {
        "tensor": f"({name}.dtype if not {name}.data_ptr() & 15{tensor_test.format(v=name)}"
                  f" else _tc_value_key({name}, _tc_Tensor, {tuples})) if _tc_t is _tc_Tensor",
        "int": f"{int_code.format(v=name)} if _tc_t is int",
        "float": "_tc_FLOAT if _tc_t is float",
    }
    first = "int" if seen is int else "float" if seen is float else "tensor"
    order = [first] + [kind for kind in branches if kind != first]
    tests = " else ".join(branches[kind] for kind in order)
    # The first test binds _tc_t (the walrus) for the others.
    tests = tests.replace("_tc_t is", f"(_tc_t := type({name})) is", 1)
    return f"({tests} else _tc_value_key({name}, _tc_Tensor, {tuples}))"


def tensor_type() -> type:
    """``torch.Tensor`` if torch is imported, else a class nothing is an instance of."""
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else type("NoTensor", (), {})


def value_key(v: Any, tensor: type, tuples: bool) -> Any:
    """Fast-key component of a non-constexpr argument.

    Exact ``torch.Tensor`` aligned to 16 bytes -> its dtype; ``int`` -> :data:`INT_CODE`;
    ``float`` -> :data:`FLOAT`; anything else -> a tuple whose first item is the value's type,
    so no two kinds of value can share a component.
    """
    t = type(v)
    if t is tensor and not v.data_ptr() & 15:
        return v.dtype
    if t is int:
        return int_code(v)
    if t is float:
        return FLOAT
    if v is None or t is bool:
        return (t, v)
    if hasattr(v, "data_ptr"):
        return (t, v.dtype, not v.data_ptr() & 15)
    if tuples and isinstance(v, tuple):  # 3.3+: tuples (and namedtuples) are specialised per item
        return (t,) + tuple([element_key(e, tensor) for e in v])
    raise Unsupported(f"argument of type {t.__module__}.{t.__qualname__}")


def element_key(v: Any, tensor: type) -> Any:
    """Key of one item of a tuple argument: a value, or a ``tl.constexpr`` inside the tuple."""
    if type(v).__name__ == "constexpr":
        return (type(v), repr(v))
    return value_key(v, tensor, True)


def constexpr_key(v: Any) -> Any:
    """Fast-key component of a constexpr parameter's value (ints are inlined as the value).

    Triton keys constexprs on ``str()`` of the value, so the type goes next to it (``1``,
    ``1.0`` and ``True`` hash equal but compile differently) and floats are keyed by ``repr``
    (``0.0 == -0.0``). ``JITFunction`` values add their ``cache_key`` (3.6+ keys on it).
    """
    t = type(v)
    if t is bool or v is None or t is str:
        return (t, v)
    if hasattr(v, "data_ptr"):
        raise Unsupported("tensor passed as a constexpr")
    cache_key = getattr(v, "cache_key", None) if hasattr(type(v), "cache_key") else None
    return (t, repr(v), cache_key)


def options_key(options: Dict[str, Any]) -> Tuple:
    """Option keywords exactly as passed, in order (Triton keys on ``str(options)``)."""
    return tuple([(k, v) if type(v) is int else (k, type(v), repr(v)) for k, v in options.items()])


def check_globals(kernel: Any) -> None:
    """Triton's guard (3.0+): a global the compiled kernel used has changed -> RuntimeError,
    with Triton's message."""
    not_present = object()
    for (name, _), (val, globals_dict) in kernel.used_global_vals.items():
        if (new_val := globals_dict.get(name, not_present)) != val:
            raise RuntimeError(
                f"Global variable {name} has changed since we compiled this kernel, from {val} to {new_val}")


# ---------------------------------------------------------------- 3.x JITFunction.run launchers
# Shared by v3_0 and v3_3. Both release ranges run ``JITFunction.run(self, *args, grid, warmup,
# **kwargs)``, keep per-device ``{str key: CompiledKernel}`` dicts, and call the compiled kernel's
# ``run(gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter, exit, *args)``.


# ---------------------------------------------------------------- what a launched object is
# Triton's kernel and wrapper classes are recognised here, by their names (the same on every
# release 2.1 - 3.9), so that the layers above know no Triton class.


# Triton's classes live in these modules (2.1 - 3.9); a class of another package with the same
# name (a library's own ``Autotuner``) is not Triton's.
_TRITON_CLASSES = {
    ("triton.runtime.jit", "JITFunction"): "jit",
    ("triton.runtime.autotuner", "Autotuner"): "autotuner",
    ("triton.runtime.autotuner", "Heuristics"): "heuristics",
    ("triton.runtime.interpreter", "InterpretedFunction"): "interpreter",  # 2.2+
    ("triton.interpreter.interpreter", "GridSelector"): "interpreter",  # 2.1
}


def kind(obj: Any) -> str:
    """``"jit"`` (a ``JITFunction``), ``"jit subclass"`` (3.4+ Gluon, a library's own subclass),
    ``"autotuner"``, ``"heuristics"``, ``"interpreter"`` (2.2+ ``InterpretedFunction``, 2.1
    ``GridSelector``) or ``"other"`` (anything else, a subclass of ``Autotuner`` or ``Heuristics``
    or a foreign class of the same name included: those are launched through their own ``run``).
    A class is Triton's by its module and name, not its name alone."""
    cls = type(obj)
    found = _TRITON_CLASSES.get((_as_triton(cls.__module__), cls.__name__))
    if found is not None:
        return found
    if any(_TRITON_CLASSES.get((_as_triton(c.__module__), c.__name__)) == "jit" for c in cls.__mro__):
        return "jit subclass"
    return "other"


def _as_triton(module: str) -> str:
    """The name of Triton's module ``module`` as ``triton.*``: itself, or, for a build that renames
    the package and is loaded as ``triton`` (the canary's ``tokenspeed_triton``), the alias that
    is the same module object."""
    head, _, rest = module.partition(".")
    if head == "triton" or not rest:
        return module
    triton = sys.modules.get("triton")
    return "triton." + rest if triton is not None and triton is sys.modules.get(head) else module


# ---------------------------------------------------------------- other libraries' replacements
# Natively ``kernel[grid](...)`` calls ``kernel.run``, and an Autotuner / Heuristics calls
# ``self.fn.run``: whatever that finds (an instance attribute, a subclass's method, a class
# attribute another library replaced) is what runs. The fast path reproduces Triton's own run (and
# tritoncompat's patched one, which reproduces it) and nothing else; every entry point that skips
# ``kernel.run`` first checks, with :func:`intact`, that ``kernel.run`` would be one of these.

#: Triton's own ``run`` and ``__getitem__`` of JITFunction / Autotuner / Heuristics, and
#: tritoncompat's replacements: the class attributes whose behaviour the fast path reproduces
#: (2.1, unpatched: None, JITFunction having no class-level ``run``). Read by the C dispatchers
#: (``_accel.c`` ``Launch``) as is: only appended to.
NATIVE: List[Any] = []
_MISSING = object()


# The same, as a set for the Python-side test (functions, None and descriptors hash and compare by
# identity; an unhashable replacement is not one of them)
_NATIVE_SET: set = set()


def register_native(value: Any) -> None:
    """Count ``value`` (a class attribute, as stored) among those the fast path reproduces."""
    if not any(v is value for v in NATIVE):
        NATIVE.append(value)
        _NATIVE_SET.add(value)


def _triton_dir() -> Optional[str]:
    triton = sys.modules.get("triton")
    path = getattr(triton, "__file__", None)
    return None if path is None else os.path.dirname(os.path.abspath(path)) + os.sep


def is_tritons(value: Any) -> bool:
    """True for a function whose code is in Triton's package (not a replacement by another
    library, nor a ``functools.wraps`` wrapper around Triton's)."""
    code = getattr(value, "__code__", None)
    root = _triton_dir()
    return (code is not None and root is not None and os.path.abspath(code.co_filename).startswith(root)
            and not hasattr(value, "__wrapped__"))


def tritons_own(owner: type, name: str) -> Any:
    """Triton's own ``owner.<name>`` (from the class ``__dict__``, along the ``__wrapped__`` chain
    of a ``functools.wraps`` replacement), or None when another library replaced it and Triton's
    cannot be found."""
    value = vars(owner).get(name)
    for _ in range(16):
        if value is None or is_tritons(value):
            return value
        value = getattr(value, "__wrapped__", None)
    return None


def _no_generated_run(value: Any) -> bool:
    return False


#: 2.1: Triton's per-kernel generated ``run`` lives in the instance ``__dict__``; v2_1 sets this
#: to its test of "this is the generated one, not a replacement".
generated_run = _no_generated_run


def _own_run_is_tritons(slots: Dict[str, Any]) -> bool:
    # 2.1: the generated run (kept by v2_1's build, or recognised); elsewhere none is Triton's
    own = slots["run"]
    return own is slots.get(_slot.TRITON_RUN_ATTR, _MISSING) or generated_run(own)


def intact(obj: Any, _native: set = _NATIVE_SET) -> bool:
    """True when ``obj[grid](...)`` would run Triton's own (or tritoncompat's) code: no ``run`` in
    the instance ``__dict__`` (2.1: the generated one), and the class's ``run`` and ``__getitem__``
    in :data:`NATIVE` (the test ``run_intact`` of ``_accel.c`` makes). A function (and 2.1's run
    descriptor) is its own value when read from the class."""
    try:
        slots = obj.__dict__
    except AttributeError:
        return False
    if "run" in slots and not _own_run_is_tritons(slots):
        return False
    cls = type(obj)
    try:
        return getattr(cls, "run", None) in _native and getattr(cls, "__getitem__", None) in _native
    except TypeError:  # an unhashable replacement
        return False


def native_reason(obj: Any) -> str:
    """The fallback reason of a launch of ``obj`` that no fast launcher serves."""
    found = kind(obj)
    if found == "interpreter":
        return "interpreter"
    if found in ("autotuner", "heuristics"):
        return f"{found} outside patch()"
    return f"unsupported kernel type {type(obj).__name__}"


def innermost(obj: Any) -> Any:
    """The function under Autotuner / Heuristics wrappers (they keep it in ``.fn``)."""
    while kind(obj) in ("autotuner", "heuristics") and hasattr(obj, "fn"):
        obj = obj.fn
    return obj


class LaunchLayout(NamedTuple):
    """A launch ABI's call of the compiled kernel's launcher and the hit's cache entry, each
    described once, by role. The generated launchers, the compiled accelerator (which receives the
    positions, ``AccelSpec.call_slots`` / ``entry_items``), the benchmark's floor, the tests and the
    CPU fake all read their slots from here."""

    call: Tuple[str, ...]  # the launcher's positional arguments before the kernel's, by role
    entry: Tuple[str, ...]  # a cache entry's items, by role

    def as_dict(self) -> Dict[str, Any]:
        """``LAUNCHER_LAYOUT``: where tests find the stream, the function, the hooks and the arguments."""
        call = self.call
        return {"stream_slot": call.index("stream"), "function_slot": call.index("function"),
                "hook_slots": tuple(call.index(r) for r in ("launch_metadata", "enter_hook", "exit_hook")),
                "args_slot": len(call)}

    def call_source(self, values: Dict[str, str], trailing: str) -> str:
        """Source of the launcher call: ``run(<value of each role, in order>{trailing})``."""
        return f"{values['run']}({', '.join(values[role] for role in self.call)}{trailing})"

    def unpack_source(self, names: Dict[str, str]) -> str:
        """Source that unpacks ``_tc_entry`` into ``names[role]`` for each item."""
        return f"{', '.join(names[role] for role in self.entry)} = _tc_entry"


# 3.0-3.9: kernel.run(gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook,
# exit_hook, *arguments) -- the arguments are the non-constexpr ones up to 3.2, every one from 3.3.
LAYOUT_3X = LaunchLayout(
    call=("grid_x", "grid_y", "grid_z", "stream", "function", "packed_metadata", "launch_metadata", "enter_hook",
          "exit_hook"),
    entry=("compiled", "native_key", "container", "run", "function", "packed_metadata", "direct"))

# The roles in the order of _accel.c's enums (CALL_<ROLE> and ENTRY_<ROLE>; tests/test_structure.py
# compares the two): fixed, whatever the layout's order. The accelerator gets each role's position
# in the layout (AccelSpec.call_slots / entry_items), never the positions themselves.
ACCEL_CALL_ROLES = ("grid_x", "grid_y", "grid_z", "stream", "function", "packed_metadata", "launch_metadata",
                    "enter_hook", "exit_hook")
ACCEL_ENTRY_ROLES = ("compiled", "native_key", "container", "run", "function", "packed_metadata", "direct")

# The generated 3.x launchers' local names of the entry's items and of the launcher call's values.
ENTRY_LOCALS = {"compiled": "_tc_kref", "native_key": "_tc_nkey", "container": "_tc_dcache", "run": "_tc_run",
                "function": "_tc_function", "packed_metadata": "_tc_packed", "direct": "_tc_direct"}
CALL_LOCALS = {"run": "_tc_run", "grid_x": "_tc_grid[0]", "grid_y": "_tc_grid[1] if _tc_n > 1 else 1",
               "grid_z": "_tc_grid[2] if _tc_n > 2 else 1", "stream": "_tc_stream", "function": "_tc_function",
               "packed_metadata": "_tc_packed"}


def bound_arguments(kernel: Any, args: tuple, kwargs: dict) -> Dict[str, Any]:
    """Each parameter of a 3.x ``kernel`` and its value in a launch with ``args`` / ``kwargs``,
    defaults applied, in the parameters' order (the benchmark's prebuilt arguments)."""
    bound = inspect.signature(kernel.fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def floor_3x(kernel: Any, compiled: Any, grid: tuple, args: tuple, kwargs: dict, stream: int,
             launch_constexprs: bool) -> Callable[[], Any]:
    """The benchmark's floor on 3.x: the compiled kernel's launcher with prebuilt arguments (the
    constexpr ones too when ``launch_constexprs``, 3.3+) and no hooks, in :data:`LAYOUT_3X` order."""
    constexprs = {p.name for p in kernel.params if p.is_constexpr}
    values = tuple(v for name, v in bound_arguments(kernel, args, kwargs).items()
                   if launch_constexprs or name not in constexprs)
    gx, gy, gz = (tuple(grid) + (1, 1))[:3]
    by_role = {"grid_x": gx, "grid_y": gy, "grid_z": gz, "stream": stream, "function": compiled.function,
               "packed_metadata": compiled.packed_metadata, "launch_metadata": None, "enter_hook": None,
               "exit_hook": None}
    prefix = tuple(by_role[role] for role in LAYOUT_3X.call)
    run = compiled.run
    everything = prefix + tuple(values)

    def floor() -> None:
        run(*everything)

    return floor


# 2.3+: JITFunction.run asserts that none of these is among its keywords, even when a kernel
# parameter has the name; such kernels go native (launch() passes every argument positionally).
DEPRECATED_OPTIONS = frozenset({"device", "stream", "device_type"})


class Draft(NamedTuple):
    """What every 3.x backend's generated launcher starts from (see :func:`draft`)."""

    names: List[str]  # the kernel's parameters, in order
    constexprs: set  # the constexpr ones
    cache: _cache.KernelCache
    ns: Dict[str, Any]  # the generated code's globals: the helpers below, and the defaults
    sig: List[str]  # the generated def's parameters
    args_tuple: str  # source of the tuple of every parameter
    key: List[str]  # source of the fast key's items: device, parameters, options, injected values
    tuples: bool  # tuple arguments are specialised per item (3.3+)
    classes_only: set  # the do_not_specialize parameters whose ints are keyed by range class alone


def draft(kernel: Any, injected: List[Tuple[str, str]], sample: Any, max_entries: int, tuples: bool,
          dns_classes: bool = False) -> Any:
    """The parts of a 3.x launcher that do not depend on the release, or the reason (a str) why
    this kernel cannot have one.

    ``injected`` are ``JITFunction.run``'s ``kwargs["name"] = <expression>`` lines: each
    expression is evaluated on every launch, as run does, and keyed with its type (Triton keys on
    ``str()``: ``True`` and ``1`` differ). ``sample``, the first launch's ``(args, kwargs)``, puts
    each parameter's first-seen type test first. ``tuples``: tuple arguments are specialised per
    item (3.3+) rather than an error. ``dns_classes``: the release keys an int of a
    ``do_not_specialize`` parameter by its range class alone (3.3+), and so does the key.
    """
    signature = inspect.signature(kernel.fn)
    params = list(signature.parameters.values())
    names = [p.name for p in params]
    reason = unsupported_parameters(params)
    if reason is None and any(name in names for name, _ in injected):
        # run writes kwargs["debug"] (...) before binding: it would rebind a parameter of that name
        reason = "parameter named like an injected option"
    if reason is None and DEPRECATED_OPTIONS.intersection(names):
        reason = "parameter named like a launch option"
    if reason is not None:
        return reason
    cache = _cache.KernelCache(kernel.fn.__qualname__, max_entries)
    ns: Dict[str, Any] = {
        "_tc_fn": kernel, "_tc_cache": cache, "_tc_entries_get": cache.entries.get,
        "_tc_hit": cache.hits.__next__, "_tc_Tensor": tensor_type(), "_tc_FLOAT": FLOAT, "_tc_Stale": Stale,
        "_tc_value_key": value_key, "_tc_constexpr_key": constexpr_key, "_tc_options_key": options_key,
        "_tc_check_globals": check_globals, "os": os,
    }
    sig = def_parameters(params, ns)
    constexprs = {p.name for p in kernel.params if p.is_constexpr}
    seen = sample_types(signature, sample)
    classes_only = {p.name for p in kernel.params if dns_classes and getattr(p, "do_not_specialize", False)}
    key = ["_tc_dev"]
    for n in names:
        if n in constexprs:
            key.append(f"{n} if type({n}) is int else _tc_constexpr_key({n})")
        else:
            key.append(value_key_expr(n, seen.get(n), tuples=tuples,
                                      int_code=INT_CLASS if n in classes_only else INT_CODE))
    key.append("_tc_options_key(_tc_options) if _tc_options else ()")
    for name, expr in injected:
        local = f"_tc_injected_{name}"
        key.append(f"({local} := {expr.replace('kwargs.', '_tc_options.').replace('self.', '_tc_fn.')})")
        key.append(f"type({local})")
    args_tuple = f"({', '.join(names)},)" if names else "()"
    return Draft(names, constexprs, cache, ns, sig, args_tuple, key, tuples, classes_only)


class AccelSpec(NamedTuple):
    """Everything the compiled accelerator serves one kernel's hits with: ``_accel.Accel(py, spec)``
    reads these attributes (see the field comments of ``Accel`` in ``_accel.c``)."""

    names: Tuple[str, ...]
    defaults: Tuple[Any, ...]  # each parameter's default, or ``required``
    required: Any
    constexpr: Tuple[Optional[bool], ...]  # True: a constexpr; None: an int keyed by range class (INT_CLASS)
    fn: Any
    entries: Dict[Any, Any]
    hit: Any
    tensor: type
    float_key: Any
    value_key: Any
    tuples: bool
    constexpr_key: Any
    injected: Any
    injected_program: Any  # :func:`injected_program` of the same expressions, or None
    driver_config: Any
    driver_attr: str
    driver: Any
    get_device: Any
    get_stream: Any
    verify: Any
    launched: Tuple[bool, ...]
    # the release's checks (each backend's ``release`` argument of :func:`accelerate`)
    native_attr: str
    nested: bool
    instrumentation: int
    hooks: Any
    hook_chains: bool
    stages_hook: bool
    # the launch ABI (:data:`LAYOUT_3X`): positions of the roles of ACCEL_CALL_ROLES / ACCEL_ENTRY_ROLES
    call_width: int
    call_slots: Tuple[int, ...]
    entry_width: int
    entry_items: Tuple[int, ...]


def accelerate(fast: Callable[..., Any], kernel: Any, d: Draft, injected: int, launch_constexprs: bool,
               verify: bool, release: Dict[str, Any]) -> Tuple[Any, _cache.KernelCache]:
    """``(launcher, its key cache)``: ``fast`` (a generated 3.x launcher) wrapped by the compiled
    accelerator, which serves its plain hits in C with the same key (``_accel.c``); ``fast`` itself
    when the accelerator is off.

    ``injected``: how many options the release injects (the key ends with their ``(value, type)``
    pairs, computed by a generated function from the same expressions); ``launch_constexprs``:
    the compiled kernel's launcher takes the constexpr arguments too (3.3+); ``verify``:
    ``TRITONCOMPAT_VERIFY``; ``release``: the release-specific checks (:class:`AccelSpec`'s). The driver, its device/stream functions and the verifier are the ones ``fast`` uses
    (its namespace's ``_tc_driver_config``, ``_tc_driver``, ``_tc_get_device``, ...).
    """
    module = _accel.load()
    if module is None or len(d.names) > module.MAX_PARAMS:  # wider kernels keep their Python launcher
        return fast, d.cache
    ns = d.ns
    tail = d.key[len(d.key) - 2 * injected:] if injected else []
    source = ["def _tc_injected(_tc_options):", "    return (", *[f"        {k}," for k in tail], "    )"]
    ns_injected = _codegen.make_function("_tc_injected", source, ns, f"injected {kernel.fn.__qualname__}")
    program = injected_program(tail[0::2], ns)
    required = object()
    layout = LAYOUT_3X
    spec = AccelSpec(
        names=tuple(d.names), defaults=tuple(ns.get(f"_tc_default_{name}", required) for name in d.names),
        required=required, constexpr=tuple(True if name in d.constexprs else None if name in d.classes_only else False
                                           for name in d.names), fn=kernel,
        entries=d.cache.entries, hit=ns["_tc_hit"], tensor=ns["_tc_Tensor"], float_key=FLOAT, value_key=value_key,
        tuples=d.tuples, constexpr_key=constexpr_key, injected=ns_injected, injected_program=program,
        driver_config=ns["_tc_driver_config"],
        driver=ns["_tc_driver"], get_device=ns["_tc_get_device"], get_stream=ns["_tc_get_stream"],
        verify=ns["_tc_verify"] if verify else None,
        launched=tuple(launch_constexprs or name not in d.constexprs for name in d.names),
        call_width=len(layout.call), call_slots=tuple(layout.call.index(role) for role in ACCEL_CALL_ROLES),
        entry_width=len(layout.entry), entry_items=tuple(layout.entry.index(role) for role in ACCEL_ENTRY_ROLES),
        **release)
    return module.Accel(fast, spec), d.cache


def injected_program(values: List[str], ns: Dict[str, Any]) -> Optional[Tuple[Tuple[Any, ...], ...]]:
    """The injected option values' expressions (the key's ``(_tc_injected_<name> := <expr>)``
    items) as steps the accelerator evaluates without a Python frame, or None when one of them has
    another form (then it calls the generated ``_tc_injected``). Two forms, the 3.4-3.9 ones:

    * ``("get_or", name, attr, chain)``: ``_tc_options.get(name, _tc_fn.<attr>) or <chain>``;
    * ``("chain", chain)``: ``<chain>``;

    a chain being ``(object, attr, ...)``: a global of the launcher's namespace (``knobs``) and the
    attributes read from it, one after the other, on every launch, as the expression reads them.
    """
    def chain(node: ast.expr) -> Optional[Tuple[Any, ...]]:
        attrs: List[str] = []
        while isinstance(node, ast.Attribute):
            attrs.insert(0, node.attr)
            node = node.value
        if not attrs or not isinstance(node, ast.Name) or node.id not in ns:
            return None
        return (ns[node.id], *attrs)

    program: List[Tuple[Any, ...]] = []
    for source in values:
        node = ast.parse(source, mode="eval").body
        if not isinstance(node, ast.NamedExpr):
            return None
        node = node.value
        step: Optional[Tuple[Any, ...]] = None
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
            get, rest = node.values
            tail = chain(rest)
            if (tail is not None and isinstance(get, ast.Call) and not get.keywords and len(get.args) == 2
                    and ast.unparse(get.func) == "_tc_options.get"
                    and isinstance(get.args[0], ast.Constant) and type(get.args[0].value) is str
                    and isinstance(get.args[1], ast.Attribute) and ast.unparse(get.args[1].value) == "_tc_fn"):
                step = ("get_or", get.args[0].value, get.args[1].attr, tail)
        elif (tail := chain(node)) is not None:
            step = ("chain", tail)
        if step is None:
            return None
        program.append(step)
    return tuple(program)


def unsupported_parameters(params: List[inspect.Parameter]) -> Optional[str]:
    """Why a generated launcher cannot take these kernel parameters (None: it can)."""
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return "keyword-only or variadic kernel parameters"
    if not _codegen.safe_param_names([p.name for p in params]):
        return "parameter names clash with generated names"
    return None


def def_parameters(params: List[inspect.Parameter], ns: Dict[str, Any]) -> List[str]:
    """The kernel's parameters as a generated ``def`` lists them; each default is bound once, in
    ``ns``, as ``_tc_default_<name>`` (as Triton's 3.x binders bind theirs)."""
    sig = []
    for p in params:
        if p.default is inspect.Parameter.empty:
            sig.append(p.name)
        else:
            ns[f"_tc_default_{p.name}"] = p.default
            sig.append(f"{p.name}=_tc_default_{p.name}")
    return sig


def key_lines(stale: str, key: List[str], args_tuple: str, extra: Sequence[str] = ()) -> List[str]:
    """The opening lines of a generated launcher: the driver check, ``_tc_dev``, ``_tc_key`` (one
    item per expression of ``key``) and ``_tc_entry``, then ``extra``. Anything raised there goes
    to ``_tc_slow`` with the exception."""
    return [
        "    try:",
        f"        if {stale}:",
        "            raise _tc_Stale",
        "        _tc_dev = _tc_get_device()",
        "        _tc_key = (",
        *[f"            {k}," for k in key],
        "        )",
        "        _tc_entry = _tc_entries_get(_tc_key)",
        *[f"        {line}" for line in extra],
        "    except Exception as _tc_exc:",
        f"        return _tc_slow(_tc_exc, None, None, _tc_grid, {args_tuple}, _tc_options)",
    ]


def hit_lines(verify: bool, args_tuple: str, grid_dict: str) -> List[str]:
    """The lines of a hit between the native-entry check and the launcher call: Triton's guard
    on the globals the kernel used, the hit count, verification (when ``verify``), ``_tc_stream``,
    and the grid evaluated after the lookup (a callable gets a fresh dict of every parameter,
    ``grid_dict``), with ``_tc_n`` its length."""
    return [
        "    if _tc_fn.used_global_vals:",
        "        _tc_check_globals(_tc_fn)",
        "    _tc_hit()",
        *([f"    _tc_verify(_tc_entry, _tc_dev, _tc_grid, {args_tuple}, _tc_options)"] if verify else []),
        "    _tc_stream = _tc_get_stream(_tc_dev)",
        "    if callable(_tc_grid):",
        f"        _tc_grid = _tc_grid({grid_dict})",
        "    _tc_n = len(_tc_grid)",
    ]


def driver_functions(drv: Any) -> Tuple[Any, Any]:
    """The device and stream functions of the active driver, as Triton calls them per launch."""
    get_device = drv.get_current_device
    torch = sys.modules.get("torch")
    if torch is not None and get_device is getattr(torch.cuda, "current_device", None):
        # torch.cuda.current_device() is _lazy_init() + _cuda_getDevice(); a hit only happens
        # after a native launch initialised CUDA, so the C function alone is the same read.
        get_device = torch._C._cuda_getDevice
    return get_device, drv.get_current_stream


def forwarder(run: Callable[..., Any], kernel: Any, reason: str) -> Callable[..., Any]:
    """A launcher that always goes through Triton's own ``run``, counted under ``reason``."""

    def forward(grid, *args, **kwargs):
        _cache.count_fallback(reason)
        return run(kernel, *args, grid=grid, warmup=False, **kwargs)

    return forward


# A kernel that keeps missing: more live keys than TRITONCOMPAT_MAX_ENTRIES (say ints of
# do_not_specialize parameters over one compiled kernel) make every launch a miss, each dearer than
# Triton's own launch. When, over the last CHURN_WINDOW evictions (at most the cache's size, at
# least CHURN_MIN: a few evictions tell nothing), misses outnumber hits, the kernel
# steps aside to Triton's own path (counted per launch under KEEPS_MISSING, one warning); one launch
# in PROBE_EVERY still goes through its fast launcher (a probe), and COME_BACK_AFTER probe hits in a
# row (the launches would hit again) bring the fast path back; twice as many each time it stepped
# aside before (a cycle of keys longer than the cache shows hits for a while, then misses again), up
# to 2**6 times. A probe that misses costs a miss (~2.5 native launches), so the interval doubles
# with each probe that misses, up to PROBE_MAX: a kernel that keeps missing pays about one miss in
# PROBE_MAX launches. A probe that hits makes the next launch a probe too: the hits in a row must be
# launches in a row (sparse probes of a cycle of keys longer than the cache hit often; the cycle
# itself never does), and a kernel whose launches hit again is back within PROBE_MAX launches.
KEEPS_MISSING = "keeps missing (more live keys than TRITONCOMPAT_MAX_ENTRIES)"
CHURN_WINDOW = 256
CHURN_MIN = 32
PROBE_EVERY = 64
PROBE_MAX = 4096
COME_BACK_AFTER = 8


class JitState:
    """The slow paths of one kernel's generated launcher: fallbacks, misses, verification.

    ``run`` is Triton's own ``JITFunction.run``. A backend subclasses this to say where Triton
    keeps the kernel's compiled kernels (:meth:`native_dicts`) and which launches go through
    Triton's own path (:meth:`native_reason`, :meth:`uncacheable`). A cache entry is
    ``(compiled, native key, native container, compiled.run, compiled.function,
    compiled.packed_metadata, own launch or None)`` (:data:`LAYOUT_3X`). It holds the compiled
    kernel through a weak reference: a hit first checks that Triton's cache holds it (and then holds
    it for the launch, as Triton's run does), and a kernel deleted from Triton's cache by another
    library (vLLM unloading modules; 3.8+ unloads the module in ``__del__``) is not kept alive."""

    #: what a cacheable native launch returns (anything else is passed through, not cached)
    compiled_type: type = object

    def __init__(self, run: Callable[..., Any], kernel: Any, cache: _cache.KernelCache) -> None:
        self.run = run
        self.kernel = kernel
        self.cache = cache
        self.mark: Optional[Dict[str, int]] = None  # the cache's counters at the last look at its churn
        self.asides = 0  # how many times this kernel stepped aside
        self.aside: Any = None  # the launcher installed while it steps aside

    def native(self, grid: Any, args: tuple, options: dict, warmup: bool = False) -> Any:
        return self.run(self.kernel, *args, grid=grid, warmup=warmup, **options)

    #: ``run`` takes the user's call as ``kernel[grid](*args, **kwargs)`` hands it over (3.x)
    run_takes_call = True

    def call_triton(self, grid: Any, args: tuple, kwargs: dict) -> Any:
        """The user's call ``kernel[grid](*args, **kwargs)`` through Triton's own path, uncounted."""
        return self.run(self.kernel, *args, grid=grid, warmup=False, **kwargs)

    def native_dicts(self, dev: Any) -> Optional[Tuple[Any, Dict[str, Any]]]:
        """``(container, {native key: compiled kernel})`` of device ``dev`` (None: none yet). A
        hit checks that Triton still holds the container and, in the dict, the compiled kernel."""
        raise NotImplementedError

    def native_reason(self, key: Tuple) -> Optional[str]:
        """Why this launch goes through Triton's own path, counted (None: it need not)."""
        return "pre-run hooks" if self.kernel.pre_run_hooks else None

    def uncacheable(self, compiled: Any) -> Optional[str]:
        """Why no launch of this kernel can be cached (None: they can); the kernel's launcher is
        then replaced by a forwarder."""
        return None

    def slow(self, exc, key, dev, grid, args, options):
        if exc is not None:
            return self.after_error(exc, lambda: self.native(grid, args, options))
        reason = self.native_reason(key)
        if reason is not None:
            _cache.count_fallback(reason)
            return self.native(grid, args, options)
        return self.miss(key, dev, grid, args, options)

    def after_error(self, exc: BaseException, native: Callable[[], Any]) -> Any:
        """The error policy: the fast path raised ``exc`` before launching. Unsupported values and a
        changed driver go native for this launch; anything else is a bug of the fast path unless
        Triton's own path raises too (then it was the user's error, and the user gets Triton's
        exception). A fast path that failed on a launch Triton accepts is disabled for this kernel
        (a forwarder, counted), with one warning."""
        if isinstance(exc, Unsupported):
            _cache.count_fallback(exc.reason)
            return _without_context(native, exc)
        if isinstance(exc, Stale):
            _cache.count_fallback("driver changed")
            _slot.forget(self.kernel)
            return _without_context(native, exc)
        _cache.count_fallback("argument error")
        result = _without_context(native, exc)  # raises the user's error, as Triton would
        _slot.install(self.kernel, self.forwarder("fast path disabled after an error"))
        _slot.warn_once(self.kernel, f"tritoncompat: the fast path of {self.kernel!r} raised {exc!r}; this kernel "
                        "now always goes through Triton's own path. Please report this.")
        return result

    def miss(self, key, dev, grid, args, options):
        cache = self.cache
        with cache.lock:
            compiled = self.native(grid, args, options)
            cache.misses += 1
            if not isinstance(compiled, self.compiled_type):
                return compiled
            reason = self.uncacheable(compiled)
            if reason is not None:
                _slot.install(self.kernel, self.forwarder(reason))
                return compiled
            found = self.native_dicts(dev)
            if found is None:
                return compiled
            container, native = found
            nkey = next((k for k, v in native.items() if v is compiled), None)
            if nkey is None:
                return compiled
            cache.store(key, self.entry(compiled, nkey, container))
            if cache.evictions:  # full: does it keep missing?
                self.watch_churn()
        return compiled

    def watch_churn(self) -> None:
        """Every ``CHURN_WINDOW`` evictions (the caller holds the cache's lock): step aside when
        misses outnumbered hits since the last look."""
        if self.aside is not None and vars(self.kernel).get(_slot.ATTR) is self.aside:
            return  # a probe's miss, while aside
        info = self.cache.info()
        mark = self.mark
        if mark is None or info["evictions"] < mark["evictions"]:  # the first look, or a clear since
            self.mark = info
            return
        if info["evictions"] - mark["evictions"] < max(CHURN_MIN, min(self.cache.maxsize, CHURN_WINDOW)):
            return
        self.mark = info
        hits, misses = info["hits"] - mark["hits"], info["misses"] - mark["misses"]
        if misses > hits:
            self.step_aside(hits, misses)

    def step_aside(self, hits: int, misses: int) -> None:
        """Send this kernel's launches through Triton's own path until they would hit again."""
        kernel, cache = self.kernel, self.cache
        fast = vars(kernel).get(_slot.ATTR)
        if fast is None:
            return
        counted = _cache.CountedAside(KEEPS_MISSING)
        tick, probed = counted.tick, counted.probed
        streak = [0]
        every = [PROBE_EVERY]  # the probe interval: a power of two, or 1 after a probe that hit
        sparse = [PROBE_EVERY]  # the interval after a probe that missed
        needed = COME_BACK_AFTER << min(self.asides, 6)
        self.asides += 1
        native = self.call_triton

        def probe(grid, args, kwargs):
            # Through the fast launcher (a miss stores the key): do the launches hit again?
            probed()
            before = cache.info()["hits"]
            try:
                result = fast(grid, *args, **kwargs)
            except TypeError as exc:
                if exc.__traceback__.tb_next is not None:  # raised inside, not by binding the call
                    raise
                return native(grid, args, kwargs)  # Triton's own error for these arguments
            if cache.info()["hits"] == before:
                streak[0] = 0
                sparse[0] = every[0] = min(sparse[0] * 2, PROBE_MAX)
            else:
                streak[0] += 1
                every[0] = 1
                if streak[0] >= needed:
                    with cache.lock:
                        if vars(kernel).get(_slot.ATTR) is stepping_aside:
                            self.mark, self.aside = None, None
                            _slot.install(kernel, fast, cache)
                            counted.close()
            return result

        if self.run_takes_call:  # 3.x: Triton's run, called as kernel[grid] calls it (no frame between)
            run = self.run

            def stepping_aside(grid, *args, **kwargs):
                if tick() % every[0]:
                    return run(kernel, *args, grid=grid, warmup=False, **kwargs)
                return probe(grid, args, kwargs)
        else:
            def stepping_aside(grid, *args, **kwargs):
                if tick() % every[0]:
                    return native(grid, args, kwargs)
                return probe(grid, args, kwargs)

        stepping_aside.__name__ = stepping_aside.__qualname__ = f"{getattr(kernel, '__name__', 'kernel')}_stepping_aside"
        self.aside = stepping_aside
        _slot.install(kernel, stepping_aside, cache)
        _slot.warn_once(kernel, f"tritoncompat: {kernel!r} keeps missing: it has more live keys than "
                        f"TRITONCOMPAT_MAX_ENTRIES={cache.maxsize} ({misses} misses, {hits} hits over the last "
                        f"{misses + hits} launches), so its launches go through Triton's own path (counted as "
                        f"{KEEPS_MISSING!r}) until they would hit again. Raise TRITONCOMPAT_MAX_ENTRIES to keep it "
                        "on the fast path.")

    def forwarder(self, reason: str) -> Callable[..., Any]:
        """The launcher that replaces this kernel's when :meth:`uncacheable` says so."""
        return forwarder(self.run, self.kernel, reason)

    def entry(self, compiled: Any, nkey: Any, container: Any) -> Tuple:
        """The cache entry of a compiled kernel found under ``nkey`` in ``container`` (3.x:
        :data:`LAYOUT_3X`'s ``entry``)."""
        items = {"compiled": weakref.ref(compiled), "native_key": nkey, "container": container, "run": compiled.run,
                 "function": compiled.function, "packed_metadata": compiled.packed_metadata,
                 "direct": self.direct(compiled)}
        return tuple(items[role] for role in LAYOUT_3X.entry)

    def direct(self, compiled: Any) -> Any:
        """The entry's own launch (``_accel_c.Direct``), or None: Triton's launcher (``_direct``)."""
        return _direct.plan(compiled, self.kernel)

    def verify(self, entry, dev, grid, args, options):
        """``TRITONCOMPAT_VERIFY=1``: Triton's own key and lookup (``warmup=True``: a compile on a
        miss, no grid, no launch) must reach the hit's compiled kernel. With the cache's
        ``verify_first`` N (an unknown release served on trust), only each entry's first N hits."""
        first = self.cache.verify_first
        if not first:
            return self._verify(entry, dev, grid, args, options)
        verified = self.cache.verified
        seen = verified.get(id(entry))
        count = seen[1] if seen is not None and seen[0] is entry else 0
        if count >= first:
            return None
        self._verify(entry, dev, grid, args, options)
        if len(verified) > 4 * self.cache.maxsize:  # evicted entries' records: verify anew, never grow
            verified.clear()
        verified[id(entry)] = (entry, count + 1)
        return None

    def _verify(self, entry, dev, grid, args, options):
        compiled, nkey = entry[0](), entry[1]
        native = self.native(grid, args, options, warmup=True)
        if native is compiled:
            return
        found = self.native_dicts(dev)
        if found is not None and found[1].get(nkey) is native:
            return  # Triton's cache was dropped after the hit checked it (another thread): same key, compiled anew
        if found is None or found[1].get(nkey) is not compiled:
            # ... and maybe again since: the two compiles must be the same compile
            if _same_compile(native, compiled):
                return
        raise TritonCompatVerifyError(
            f"fast path of {self.kernel!r} picked {compiled!r} but Triton's own key picks {native!r} "
            f"for args {args!r} options {options!r}")


def _without_context(native: Callable[[], Any], exc: BaseException) -> Any:
    # Called while the fast path's exception is being handled: Triton's own exception must not
    # be shown as raised "during handling" of ours.
    try:
        return native()
    except BaseException as err:
        if err.__context__ is exc:
            err.__suppress_context__ = True
        raise


def _same_compile(a: Any, b: Any) -> bool:
    """Two CompiledKernels of one compilation: the same compile hash (3.0+), else the same code
    at every stage (2.x: the IRs, PTX and cubin in ``asm``)."""
    hash_a, hash_b = getattr(a, "hash", None), getattr(b, "hash", None)
    if hash_a is not None or hash_b is not None:
        return hash_a == hash_b
    asm_a, asm_b = getattr(a, "asm", None) or {}, getattr(b, "asm", None) or {}
    stages = ("ttir", "ttgir", "llir", "ptx", "cubin")  # not "ast" (an object) nor a lazy "sass"
    return "cubin" in asm_a and all(asm_a.get(s) == asm_b.get(s) for s in stages)


def is_compiling_function() -> Callable[[], bool]:
    """``torch.compiler.is_compiling`` (torch 2.3+; ``torch._dynamo.is_compiling`` before), or a
    function returning False without torch. Dynamo folds it to True while it traces."""
    torch = sys.modules.get("torch")
    if torch is None:  # not imported yet (patch() before torch): look it up on each call
        def compiling() -> bool:
            torch = sys.modules.get("torch")
            function = getattr(getattr(torch, "compiler", None), "is_compiling", None)
            return function is not None and function()

        return compiling
    function = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    if function is None:
        function = getattr(getattr(torch, "_dynamo", None), "is_compiling", None)
    return function if function is not None else (lambda: False)


class Switch:
    """Whether one ``patch()``'s replacements are in effect. ``unpatch()`` turns it off; a
    replacement that another library's own replacement still calls (it kept ours as "the
    original") then does what the attribute it replaced did."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


def through_run(kernel: Any, grid: Any, args: tuple, kwargs: dict, getitem: Any = None) -> Any:
    """``kernel[grid](*args, **kwargs)`` as Triton's own ``__getitem__`` does it (``getitem``, else
    the class's): through ``kernel.run``, which is not one the fast path reproduces (replaced on the
    instance, by a subclass, or by another library). Counted."""
    if getitem is None:
        if getattr(type(kernel).__getitem__, "tritoncompat_checks_run", False):
            return kernel[grid](*args, **kwargs)  # patched: that __getitem__ counts it
        getitem = type(kernel).__getitem__
    _cache.count_fallback("run replaced")
    return getitem(kernel, grid)(*args, **kwargs)


def patch_targets(jit_function: type, run: Callable[..., Any], fast_launch: Callable[..., Any],
                  resolve: Callable[[Any], Any], switch: Switch) -> List[Tuple[Any, str, Any]]:
    """``JITFunction.run`` and ``JITFunction.__getitem__`` replacements for ``patch()`` (3.x:
    ``run(self, *args, grid, warmup, **kwargs)``; ``__getitem__`` returns a callable taking the
    launch's arguments). ``fast_launch`` and ``resolve`` are ``_launch``'s, handed down by
    ``patch()`` (the backends sit below ``_launch``); ``switch`` is off once ``unpatch()`` ran.

    ``kernel[grid]`` goes to the fast launcher only while ``kernel.run`` would be Triton's own or
    ours (:func:`intact`: checked in C by the dispatcher, per launch); otherwise it goes through
    ``kernel.run``, as Triton's ``__getitem__`` does."""
    ATTR = _slot.ATTR
    compiling = is_compiling_function()
    accel = _accel.load()
    native_getitem = next(vars(k)["__getitem__"] for k in jit_function.__mro__ if "__getitem__" in vars(k))

    def checked_launch(self, grid, *args, **kwargs):
        if not intact(self):
            return through_run(self, grid, args, kwargs, native_getitem)
        return fast_launch(self, grid, *args, **kwargs)

    # with its dispatch in C (binding errors become Triton's own, as through launch())
    dispatch = (accel.Launch(checked_launch, ATTR, False, NATIVE, _slot.TRITON_RUN_ATTR)
                if accel is not None else None)

    def patched_run(self, *args, grid, warmup, **kwargs):
        if warmup or compiling() or not switch.on:
            if warmup:
                _cache.count_fallback("warmup")
            return run(self, *args, grid=grid, warmup=warmup, **kwargs)
        # Autotuner/Heuristics (and direct run calls) land here; kernel[grid] skips this frame.
        return fast_launch(self, grid, *args, **kwargs)

    def __getitem__(self, grid):
        if compiling() or not switch.on:  # torch.compile tracing: Dynamo must see Triton's own call
            return native_getitem(self, grid)
        # kernel[grid](...) straight into the fast launcher: no run frame, no kwargs dict.
        if dispatch is not None:
            return partial(dispatch, self, grid)
        if not intact(self):
            return partial(checked_launch, self, grid)
        try:
            return partial(vars(self)[ATTR], grid)
        except KeyError:
            return partial(resolve(self), grid)

    patched_run.__name__ = "run"
    patched_run.__qualname__ = "JITFunction.run"
    patched_run.__doc__ = run.__doc__
    __getitem__.__qualname__ = "JITFunction.__getitem__"
    __getitem__.tritoncompat_checks_run = True  # type: ignore[attr-defined]
    return [(jit_function, "run", patched_run), (jit_function, "__getitem__", __getitem__)]


def triton_run(jit_function: type) -> Any:
    """Triton's own ``JITFunction.run`` (see :func:`tritons_own`), registered with Triton's own
    ``Autotuner.run``, ``Heuristics.run`` and ``__getitem__`` in :data:`NATIVE`. A backend imports only when it
    finds it: a ``run`` another library replaced without keeping Triton's (``__wrapped__``) is
    not one the fast path can reproduce, and every launch then stays Triton's (that library's)."""
    run = tritons_own(jit_function, "run")
    if run is None:
        raise ImportError("JITFunction.run was replaced by another library before tritoncompat loaded its backend, "
                          "and Triton's own run cannot be found behind it")
    register_native(run)
    register_wrapper_runs()
    return run


def register_wrapper_runs() -> None:
    """Register Triton's own ``Autotuner.run``, ``Heuristics.run`` and ``__getitem__`` (of
    ``KernelInterface``, which every kernel class inherits) in :data:`NATIVE`."""
    from triton.runtime import autotuner, jit

    for owner, name in ((autotuner.Autotuner, "run"), (autotuner.Heuristics, "run"),
                        (jit.KernelInterface, "__getitem__")):
        value = tritons_own(owner, name)
        if value is not None:
            register_native(value)
