"""Block pointers in Triton language: the argument checks both modes share, the native forwarders
(Triton's own ``tl.make_block_ptr``, 2.1 - 3.8) and the emulation (pointer arithmetic and masks on a
``tl.tuple``, 3.3 - 3.7, or an aggregate, 3.8+; the only one on 3.9+, which removed block pointers).

Every public function here is a Triton *builtin* (a Python function the code generator calls with
its IR context, ``_builder`` up to 3.3, ``_semantic`` from 3.4), so it runs at compile time and may
check its arguments and raise a message naming them. Under ``TRITON_INTERPRET=1`` the interpreter
calls it without a context: it then takes the interpreter's own.
"""
import re

import triton
import triton.language as tl
from triton.language import core as _core

__all__ = ["RELEASE", "HAS_NATIVE", "HAS_EMULATION", "Native", "Emulated", "is_block_ptr"]


def _parse(version):
    return tuple(int(p) for p in re.match(r"(\d+)\.(\d+)", version).groups())


RELEASE = _parse(triton.__version__)
# Breakpoint: 3.9.0 turned tl.make_block_ptr / tl.advance into NotImplementedError ("Block pointers
# have been removed in favor of the tensor descriptor API").
HAS_NATIVE = RELEASE < (3, 9)
# Breakpoint: 3.3.0 added tl.tuple values (carried through loops, passed to @triton.jit helpers):
# the emulation's representation. Before it a block pointer can only be Triton's own.
HAS_EMULATION = RELEASE >= (3, 3)
# Breakpoint: 3.4.0 renamed the builtins' context keyword _builder -> _semantic.
_CTX = "_semantic" if RELEASE >= (3, 4) else "_builder"
# 3.9.0 dropped boundary_check / padding_option from tl.load and tl.store (block pointers only).
_LOAD_TAKES_BOUNDARY = HAS_NATIVE

_PADDINGS = ("", "zero", "nan")
_TUPLE = tl.tuple if HAS_EMULATION else ()   # isinstance(x, ()) is False


def _builtin(fn):
    # What tl.core.builtin marks, without its wrapper: that one refuses a call without a context,
    # which is how the interpreter (TRITON_INTERPRET=1) calls functions outside triton.language.
    fn.__triton_builtin__ = True
    # 2.1 - 3.2: a kernel's DependenciesFinder accepts a called function that is not a JITFunction
    # only if its __module__ starts with "triton." or contains ".triton.".
    fn.__module__ = __name__ + ".triton.builtins"
    return fn


def _ctx(builder, semantic):
    ctx = semantic if _CTX == "_semantic" else builder
    if ctx is None:   # TRITON_INTERPRET=1: the interpreter's own builder / semantic
        from triton.runtime import interpreter
        # 3.4+: interpreter_semantic; 3.0 - 3.3: interpreter_builder; 2.2 - 2.3: builder
        ctx = next(getattr(interpreter, name) for name in ("interpreter_semantic", "interpreter_builder", "builder")
                   if hasattr(interpreter, name))
    return {_CTX: ctx}


def _value(x):
    return x.value if isinstance(x, tl.constexpr) else x


def _seq(x, what, fn):
    x = _value(x)
    if isinstance(x, _TUPLE):
        x = list(x.values)
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{fn}: `{what}` must be a tuple or list (one entry per dimension), got {x!r}")
    return [_value(v) for v in x]


# --- argument checks shared by both modes: compile-time errors naming the argument ---------------

def _check_make(shape, strides, offsets, block_shape, order, fn):
    shape, strides, offsets = (_seq(shape, "shape", fn), _seq(strides, "strides", fn),
                               _seq(offsets, "offsets", fn))
    block_shape, order = _seq(block_shape, "block_shape", fn), _seq(order, "order", fn)
    rank = len(block_shape)
    if rank == 0:
        raise ValueError(f"{fn}: `block_shape` is empty: a block pointer has at least one dimension")
    for name, seq in (("shape", shape), ("strides", strides), ("offsets", offsets), ("order", order)):
        if len(seq) != rank:
            raise ValueError(f"{fn}: `{name}` has {len(seq)} entries but `block_shape` has {rank}: "
                             f"shape, strides, offsets, block_shape and order need one entry per dimension")
    for d, b in enumerate(block_shape):
        if not isinstance(b, int) or isinstance(b, bool):
            raise TypeError(f"{fn}: `block_shape[{d}]` must be a constexpr int, got {b!r} "
                            f"(declare it `tl.constexpr` or write a literal)")
        if b <= 0 or b & (b - 1):
            raise ValueError(f"{fn}: `block_shape[{d}]` = {b} is not a power of two")
    for d, o in enumerate(order):
        if not isinstance(o, int) or isinstance(o, bool):
            raise TypeError(f"{fn}: `order[{d}]` must be a constexpr int, got {o!r}")
    if sorted(order) != list(range(rank)):
        raise ValueError(f"{fn}: `order` = {tuple(order)} is not a permutation of 0..{rank - 1}")
    return shape, strides, offsets, block_shape, order


def _check_boundary(boundary_check, rank, fn):
    dims = _seq(boundary_check, "boundary_check", fn) if _value(boundary_check) is not None else []
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d < rank:
            raise ValueError(f"{fn}: `boundary_check` names dimension {d!r}, but the block pointer has "
                             f"{rank} dimension(s): 0..{rank - 1}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"{fn}: `boundary_check` = {tuple(dims)} names a dimension twice")
    return dims


def _check_padding(padding_option, fn):
    padding = _value(padding_option)
    padding = "" if padding is None else padding
    if padding not in _PADDINGS:
        raise ValueError(f"{fn}: `padding_option` = {padding!r} is not one of {_PADDINGS}")
    return padding


def _block_shape_of(ptr):
    # a native block pointer: pointer_type<block_type<elt, shape>>
    return [_value(s) for s in ptr.type.element_ty.get_block_shapes()]


def _check_value_shape(value, block_shape, fn):
    shape = [_value(s) for s in value.shape] if isinstance(value, tl.tensor) and value.type.is_block() else None
    if shape is not None and shape != list(block_shape):
        raise ValueError(f"{fn}: `value` has shape {shape} but the block pointer's block_shape is "
                         f"{list(block_shape)}")


def _native_block_shape(ptr):
    """The block shape of one of Triton's own block pointers, None for anything else."""
    if _is_native_block_ptr(ptr):
        return _block_shape_of(ptr)
    if _is_frontend_block_ptr(ptr):
        return [_value(b) for b in ptr.block_shape]
    return None


def _is_native_block_ptr(ptr):
    return (isinstance(ptr, tl.tensor) and ptr.type.is_ptr() and
            isinstance(ptr.type.element_ty, _core.block_type))


def _is_frontend_block_ptr(ptr):
    # 3.8.0 builds tl.make_block_ptr in its frontend, an aggregate marked __triton_block_ptr__;
    # its load hands tl.load other= without a mask when boundary_check is empty and padding_option
    # is set ("`other` cannot be provided without `mask`"), so tcl drops a padding that pads nothing.
    return getattr(type(ptr), "__triton_block_ptr__", False)


# --- native: Triton's own block pointers (2.1 - 3.8) -------------------------------------------------
# The forwarders check the arguments, then call tl.* with the same arguments: the IR, hence the
# compiled binary, is the one tl.make_block_ptr gives. tl.* is read at call time: under
# TRITON_INTERPRET=1 the interpreter replaces the functions of triton.language while it runs.

class Native:
    """Triton's own block pointers (``tl.make_block_ptr``), with argument checks; 2.1 - 3.8."""

    @staticmethod
    @_builtin
    def make_block_ptr(base, shape, strides, offsets, block_shape, order, _builder=None, _semantic=None):
        fn = "tcl.make_block_ptr"
        _check_make(shape, strides, offsets, block_shape, order, fn)
        if not HAS_NATIVE:
            raise NotImplementedError(f"{fn}: Triton {triton.__version__} has no block pointers (3.9.0 removed "
                                      f"them); tritoncompat.language emulates them there")
        return tl.make_block_ptr(base, shape, strides, offsets, block_shape, order, **_ctx(_builder, _semantic))

    @staticmethod
    @_builtin
    def advance(base, offsets, _builder=None, _semantic=None):
        block_shape = _native_block_shape(base)
        if block_shape is not None:
            n = len(_seq(offsets, "offsets", "tcl.advance"))
            if n != len(block_shape):
                raise ValueError(f"tcl.advance: `offsets` has {n} entries but the block pointer has "
                                 f"{len(block_shape)} dimension(s)")
        return tl.advance(base, offsets, **_ctx(_builder, _semantic))

    @staticmethod
    @_builtin
    def load(pointer, mask=None, other=None, boundary_check=(), padding_option="", cache_modifier="",
             eviction_policy="", volatile=False, _builder=None, _semantic=None):
        block_shape = _native_block_shape(pointer)
        if block_shape is not None:
            checked = _check_boundary(boundary_check, len(block_shape), "tcl.load")
            _check_padding(padding_option, "tcl.load")
            if _is_frontend_block_ptr(pointer) and not checked:
                padding_option = ""   # 3.8.0: see _is_frontend_block_ptr; pads nothing either way
            # 2.x canonicalizes a boundary_check constexpr as one dimension: hand it the tuple
            boundary_check = _value(boundary_check)
        return tl.load(pointer, mask, other, boundary_check, padding_option, cache_modifier, eviction_policy,
                       volatile, **_ctx(_builder, _semantic))

    @staticmethod
    @_builtin
    def store(pointer, value, mask=None, boundary_check=(), cache_modifier="", eviction_policy="",
              _builder=None, _semantic=None):
        block_shape = _native_block_shape(pointer)
        if block_shape is not None:
            _check_boundary(boundary_check, len(block_shape), "tcl.store")
            _check_value_shape(value, block_shape, "tcl.store")
            boundary_check = _value(boundary_check)   # 2.x: see load
        return tl.store(pointer, value, mask, boundary_check, cache_modifier, eviction_policy,
                        **_ctx(_builder, _semantic))


# --- emulated: (base, shape, strides, offsets, block), a tl.tuple (3.3 - 3.7) or an aggregate (3.8+) --
# shape, strides and offsets are tuples of int64 scalars (3.8's own frontend block pointer uses
# int64 for all three; 2.x - 3.7 lowered offsets * strides in int64 too). The block shape lives in
# the type of `block`, an int8 tensor of that shape whose value is never read: an assignment turns
# the constexprs of a tl.tuple into tensors (3.3 - 3.9 _sanitize_target_value), a tensor's shape
# stays. advance() hands `block` on unchanged, so a loop carries it unchanged and MLIR's scf.for
# canonicalization drops it with its constant. `order` only describes the memory layout (Triton's
# own lowering without TMA ignores it too): checked, then dropped. Every field keeps its type from
# make_block_ptr on, so a block pointer carried through a loop (`p = tcl.advance(p, ...)`) has one
# type across iterations.

_FIELDS = 5


def is_block_ptr(ptr):
    """True for an emulated block pointer (what ``emulated.make_block_ptr`` returns)."""
    if _AGGREGATE:
        return isinstance(ptr, _AGGREGATE)
    return isinstance(ptr, _TUPLE) and len(ptr.values) == _FIELDS and \
        isinstance(ptr.values[4], tl.tensor)


def _i64(x, what, ctx):
    if isinstance(x, tl.tensor):
        if x.type.is_block():
            raise ValueError(f"`{what}` must be a scalar, got a block of shape {x.shape}")
        if not x.dtype.is_int():
            raise ValueError(f"`{what}` must be an integer, got {x.dtype}")
    elif not isinstance(x, int) or isinstance(x, bool):
        raise TypeError(f"`{what}` must be an integer, got {x!r}")
    x = _core.to_tensor(x, **ctx)
    return x if x.dtype == tl.int64 else x.to(tl.int64, **ctx)


def _require_emulation(fn):
    if not HAS_EMULATION:
        raise NotImplementedError(f"{fn}: emulated block pointers need Triton 3.3+ (tl.tuple values); "
                                  f"Triton {triton.__version__} has native ones: use tritoncompat.language")


if RELEASE >= (3, 8):
    # 3.8+: an aggregate (the kind 3.8's own frontend block pointer is) keeps its class through
    # assignments, loops and helper returns, so it can carry `p.dtype` (kernels write
    # `x.to(p.dtype.element_ty)`); a tl.tuple cannot (a dtype in it cannot be flattened).
    @_core._aggregate
    class _EmulatedBlockPtr:
        base: tl.tensor
        shape: tl.tuple
        strides: tl.tuple
        offsets: tl.tuple
        block: tl.tensor

        def __init__(self, base, shape, strides, offsets, block):
            self.base = base
            self.shape = shape
            self.strides = strides
            self.offsets = offsets
            self.block = block

    _EmulatedBlockPtr.dtype = property(lambda self: self.base.dtype)
    _AGGREGATE = _EmulatedBlockPtr
else:
    _AGGREGATE = ()


def _new(base, shape, strides, offsets, block):
    if _AGGREGATE:
        return _AGGREGATE(base, shape, strides, offsets, block)
    return tl.tuple([base, shape, strides, offsets, block])


def _fields(ptr):
    if isinstance(ptr, _AGGREGATE) if _AGGREGATE else False:
        return ptr.base, ptr.shape, ptr.strides, ptr.offsets, ptr.block
    return tuple(ptr.values)


def _unpack(ptr):
    base, shape, strides, offsets, block = _fields(ptr)
    return base, list(shape.values), list(strides.values), list(offsets.values), [_value(b) for b in block.shape]


def _materialize(ptr, boundary_check, fn, ctx):
    """The block's pointers and the mask of its checked dimensions (None when none is checked)."""
    base, shape, strides, offsets, block_shape = _unpack(ptr)
    rank = len(block_shape)
    checked = _check_boundary(boundary_check, rank, fn)
    ptrs, mask = base, None
    for d, extent in enumerate(block_shape):
        coord = tl.arange(tl.constexpr(0), tl.constexpr(extent), **ctx).to(tl.int64, **ctx).__add__(offsets[d], **ctx)
        for axis in range(rank):
            if axis != d:
                coord = tl.expand_dims(coord, axis, **ctx)
        ptrs = ptrs.__add__(coord.__mul__(strides[d], **ctx), **ctx)
        if d in checked:
            valid = coord.__ge__(0, **ctx).__and__(coord.__lt__(shape[d], **ctx), **ctx)
            mask = valid if mask is None else mask.__and__(valid, **ctx)
    if mask is not None:
        mask = tl.broadcast_to(mask, *block_shape, **ctx)
    return ptrs, mask, block_shape


class Emulated:
    """Block pointers emulated in Triton language (pointer arithmetic and masks); Triton 3.3+."""

    @staticmethod
    @_builtin
    def make_block_ptr(base, shape, strides, offsets, block_shape, order, _builder=None, _semantic=None):
        fn = "tcl.make_block_ptr"
        shape, strides, offsets, block_shape, order = _check_make(shape, strides, offsets, block_shape, order, fn)
        _require_emulation(fn)
        ctx = _ctx(_builder, _semantic)
        if not (isinstance(base, tl.tensor) and base.type.is_ptr() and not base.type.is_block()):
            raise ValueError(f"{fn}: `base` must be a scalar pointer, got {getattr(base, 'type', base)}")

        def ints(seq, name):
            try:
                return tl.tuple([_i64(v, f"{name}[{d}]", ctx) for d, v in enumerate(seq)])
            except (TypeError, ValueError) as e:
                raise type(e)(f"{fn}: {e}") from None

        block = tl.full([tl.constexpr(b) for b in block_shape], 0, tl.int8, **ctx)
        return _new(base, ints(shape, "shape"), ints(strides, "strides"), ints(offsets, "offsets"), block)

    @staticmethod
    @_builtin
    def advance(base, offsets, _builder=None, _semantic=None):
        fn = "tcl.advance"
        if not is_block_ptr(base):
            return Native.advance(base, offsets, _builder=_builder, _semantic=_semantic)
        ctx = _ctx(_builder, _semantic)
        b, shape, strides, old, block = _fields(base)
        deltas = _seq(offsets, "offsets", fn)
        if len(deltas) != len(old.values):
            raise ValueError(f"{fn}: `offsets` has {len(deltas)} entries but the block pointer has "
                             f"{len(old.values)} dimension(s)")
        try:
            new = [o.__add__(_i64(v, f"offsets[{d}]", ctx), **ctx) for d, (o, v) in enumerate(zip(old.values, deltas))]
        except (TypeError, ValueError) as e:
            raise type(e)(f"{fn}: {e}") from None
        return _new(b, shape, strides, tl.tuple(new), block)

    @staticmethod
    @_builtin
    def load(pointer, mask=None, other=None, boundary_check=(), padding_option="", cache_modifier="",
             eviction_policy="", volatile=False, _builder=None, _semantic=None):
        fn = "tcl.load"
        ctx = _ctx(_builder, _semantic)
        if not is_block_ptr(pointer):
            if _LOAD_TAKES_BOUNDARY or _is_native_block_ptr(pointer):
                return tl.load(pointer, mask, other, boundary_check, padding_option, cache_modifier,
                               eviction_policy, volatile, **ctx)
            if _seq(boundary_check, "boundary_check", fn) or _check_padding(padding_option, fn):
                raise ValueError(f"{fn}: `boundary_check` and `padding_option` apply to block pointers "
                                 f"(tcl.make_block_ptr), not to a tensor of pointers")
            return tl.load(pointer, mask, other, cache_modifier=cache_modifier, eviction_policy=eviction_policy,
                           volatile=volatile, **ctx)
        if _value(mask) is not None or _value(other) is not None:
            raise ValueError(f"{fn}: `mask` and `other` cannot be given with a block pointer: "
                             f"use boundary_check and padding_option")
        padding = _check_padding(padding_option, fn)
        ptrs, bmask, _ = _materialize(pointer, boundary_check, fn, ctx)
        elt = _fields(pointer)[0].dtype.element_ty
        if padding == "nan" and elt.is_int():
            raise ValueError(f"{fn}: `padding_option` 'nan' is not supported for integer block pointers")
        pad = None
        if bmask is not None and padding == "zero":
            pad = 0.0 if elt.is_floating() else 0
        elif bmask is not None and padding == "nan":
            pad = float("nan")
        return tl.load(ptrs, bmask, pad, cache_modifier=cache_modifier, eviction_policy=eviction_policy,
                       volatile=volatile, **ctx)

    @staticmethod
    @_builtin
    def store(pointer, value, mask=None, boundary_check=(), cache_modifier="", eviction_policy="",
              _builder=None, _semantic=None):
        fn = "tcl.store"
        ctx = _ctx(_builder, _semantic)
        if not is_block_ptr(pointer):
            if _LOAD_TAKES_BOUNDARY or _is_native_block_ptr(pointer):
                return tl.store(pointer, value, mask, boundary_check, cache_modifier, eviction_policy, **ctx)
            if _seq(boundary_check, "boundary_check", fn):
                raise ValueError(f"{fn}: `boundary_check` applies to block pointers (tcl.make_block_ptr), "
                                 f"not to a tensor of pointers")
            return tl.store(pointer, value, mask, cache_modifier=cache_modifier, eviction_policy=eviction_policy,
                            **ctx)
        if _value(mask) is not None:
            raise ValueError(f"{fn}: `mask` cannot be given with a block pointer: use boundary_check")
        ptrs, bmask, block_shape = _materialize(pointer, boundary_check, fn, ctx)
        _check_value_shape(value, block_shape, fn)
        elt = _fields(pointer)[0].dtype.element_ty
        if not isinstance(value, tl.tensor):
            value = _core.to_tensor(value, **ctx)
        if not value.type.is_block():
            value = tl.broadcast_to(value, *block_shape, **ctx)
        value = value.to(elt, **ctx)   # native block-pointer stores cast to the element type too
        return tl.store(ptrs, value, bmask, cache_modifier=cache_modifier, eviction_policy=eviction_policy, **ctx)


# Module-level names for the @triton.jit helpers of emulated.py: a helper may read a module's
# attributes, not a class's (3.x: only constexprs and modules are visible globals).
emulated_make_block_ptr = Emulated.make_block_ptr
emulated_advance = Emulated.advance
emulated_load = Emulated.load
emulated_store = Emulated.store


def choose_block_pointers(value, native, emulated):
    """The module ``TRITONCOMPAT_BLOCK_PTR`` = ``value`` asks for (unset or ``auto``: Triton's own
    where the release has them); ImportError for what the release cannot do."""
    value = (value or "auto").strip().lower()
    if value not in ("auto", "native", "emulated"):
        raise ImportError(f"TRITONCOMPAT_BLOCK_PTR={value!r}: expected 'auto', 'native' or 'emulated'")
    if value == "native" and not HAS_NATIVE:
        raise ImportError(f"TRITONCOMPAT_BLOCK_PTR=native: Triton {triton.__version__} has no block pointers "
                          f"(3.9.0 removed them)")
    if value == "emulated" and not HAS_EMULATION:
        raise ImportError(f"TRITONCOMPAT_BLOCK_PTR=emulated needs Triton 3.3+ (tl.tuple values), "
                          f"found {triton.__version__}")
    if value == "auto":
        return native if HAS_NATIVE else emulated
    return native if value == "native" else emulated
