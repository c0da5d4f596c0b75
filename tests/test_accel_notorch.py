"""The compiled accelerator without torch, under each Python tritoncompat supports.

The ``t331-cp310``, ``t360-cp312`` and ``t390-cp313`` envs (tox.ini, matrix/README.md) have no
torch: for those Pythons PyPI's Linux x86_64 torch wheels are CUDA builds (~3 GB of nvidia-*
wheels each), and the CPU builds live on download.pytorch.org. They run this module, which needs
none: Triton compiles for real through the fake CUDA driver (``tritoncompat.testing.fake``), and a
pointer argument is :class:`Ptr`, an object with ``data_ptr()`` and ``dtype``, which Triton 3.x
takes as it takes a tensor (on the torch envs it is not a ``torch.Tensor``: the key's general
branch).

It proves that ``_accel.c`` builds and loads under the Python running it (it fails where it did not
build; only ``TRITONCOMPAT_ACCEL=0`` skips that), that the key computed in C is the key the
generated Python launcher looks up (a hypothesis property over every key class), that hits are
served in C with the launcher arguments of Triton's own path, that a call that raises counts no
hit and launches nothing, and that the C paths leak no references. Every env runs it; all but
the build tests need a 3.x release (the accelerator serves the 3.x backends; 2.x is tested with
torch elsewhere).
"""

import gc
import importlib.machinery
import os
import platform
import sys
import weakref

import pytest
import triton
import triton.language as tl
from hypothesis import given
from hypothesis import strategies as st

import tritoncompat
from tritoncompat import _accel, _launch, _version
from tritoncompat.backends import _common

pytestmark = [pytest.mark.triton]

ACCEL_OFF = os.environ.get("TRITONCOMPAT_ACCEL", "1").strip().lower() in ("0", "false", "no", "off", "n")
V = tuple(int(p) for p in triton.__version__.split("+")[0].split(".")[:2])
V3 = _version.detect().backend in ("v3_0", "v3_3")
needs_v3 = pytest.mark.skipif(not V3, reason="the accelerator serves the 3.x backends (a 2.x release here)")
needs_accel = pytest.mark.skipif(ACCEL_OFF, reason="TRITONCOMPAT_ACCEL=0: the accelerator is off on purpose")


class Ptr:
    """A pointer argument without torch: what Triton 3.x reads of a tensor (``data_ptr()``, and a
    ``dtype`` whose ``str()`` ends with the element type's name)."""

    def __init__(self, address, dtype="float32"):
        self.address, self.dtype = address, dtype

    def data_ptr(self):
        return self.address

    def __repr__(self):
        return f"Ptr({self.address:#x}, {self.dtype})"


_built = {}


def kernels():
    """Built once, after the fake driver is installed (2.1 binds the driver at decoration)."""
    if not _built:
        @triton.jit
        def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr = 64, MODE: tl.constexpr = None):
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            m = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * alpha + k, mask=m)

        @triton.jit
        def scalars(out_ptr, a, b, c, FLAG: tl.constexpr, BLOCK: tl.constexpr):
            offs = tl.arange(0, BLOCK)
            v = (a + b).to(tl.float32) + c
            if FLAG:
                v = -v
            tl.store(out_ptr + offs, v + offs.to(tl.float32))

        @triton.jit
        def helper(x):
            return x

        _built.update(axpb=axpb, scalars=scalars, helper=helper)
    return _built


def launcher(kernel):
    return vars(kernel)[_launch.ATTR]


class Recorder:
    """Stands in for the Python launcher's ``_tc_entries_get``: records the keys it looks up, and
    with ``stop`` ends the launch right there (no compile, no launch)."""

    class Stop(BaseException):  # not an Exception: the launcher's own ``except Exception`` lets it through
        pass

    def __init__(self, fast, stop=False):
        self.globals = fast.py.__globals__ if hasattr(fast, "py") else fast.__globals__
        self.real = self.globals["_tc_entries_get"]
        self.stop = stop
        self.keys = []

    def __call__(self, key):
        self.keys.append(key)
        if self.stop:
            raise Recorder.Stop
        return self.real(key)

    def __enter__(self):
        self.globals["_tc_entries_get"] = self
        return self

    def __exit__(self, *exc):
        self.globals["_tc_entries_get"] = self.real


def assert_same_launch(fast, native):
    """Slot by slot: pointers by identity, idle hooks and launch metadata modulo None (the fast
    path passes None where Triton passes idle hooks), everything else by type and value."""
    assert len(fast) == len(native), (fast, native)
    hook_slots = _launch.backend().module.LAUNCHER_LAYOUT["hook_slots"]
    for i, (a, b) in enumerate(zip(fast, native)):
        if i in hook_slots and (a is None or a is b or type(a).__name__ == type(b).__name__ == "LazyDict"):
            continue
        if isinstance(b, Ptr):
            assert a is b, f"slot {i}: {a!r} is not {b!r}"
        else:
            assert type(a) is type(b) and (a == b or a != a and b != b), f"slot {i}: {a!r} != {b!r}"


# ---------------------------------------------------------------- the build


@needs_accel
def test_the_accelerator_builds_and_loads_under_this_python(monkeypatch, tmp_path):
    """Built now, from the source, with this Python's headers, into an empty directory: not an
    earlier build found in the cache."""
    monkeypatch.setenv("TRITONCOMPAT_CACHE_DIR", str(tmp_path))
    _accel.reset()
    try:
        module, state = _accel.load(), _accel.state()
    finally:
        _accel.reset()  # the rest of the session loads the env's own build
    assert module is not None, f"the accelerator did not build under Python {platform.python_version()}: {state}"
    (built,) = [f for f in os.listdir(tmp_path) if not f.endswith((".sum", ".lock"))]  # and its checksum, lock
    assert state == f"on ({os.path.join(str(tmp_path), built)})"
    assert built.endswith(importlib.machinery.EXTENSION_SUFFIXES[0])  # this interpreter's ABI
    assert module.__file__ == os.path.join(str(tmp_path), built)
    assert {"Accel", "Launch"} <= set(vars(module))


@needs_accel
def test_launch_is_the_compiled_dispatcher(fake_cuda):
    assert _launch.dispatcher() is not _launch.launch
    assert type(_launch.dispatcher()).__name__ == "Launch"
    assert type(tritoncompat.launch).__name__ == "Launch"
    assert _launch.status()["accelerator"].startswith("on (") or not V3


# ---------------------------------------------------------------- hits served in C


def _cases():
    k = kernels()
    x, out = Ptr(0x10000), Ptr(0x20000)
    return {
        "pointers": (k["axpb"], (8,), (x, out, 1000, 3, 2.5), {}),
        "misaligned pointer": (k["axpb"], (8,), (Ptr(0x10004), out, 1000, 3, 2.5), {}),
        "fp16 pointers": (k["axpb"], (8,), (Ptr(0x10000, "float16"), Ptr(0x30000, "float16"), 1000, 3, 2.5), {}),
        "keywords": (k["axpb"], (8,), (), dict(out_ptr=out, x_ptr=x, alpha=2.5, n=1000, k=3, BLOCK=128)),
        "callable grid": (k["axpb"], lambda meta: (triton.cdiv(1000, meta["BLOCK"]),), (x, out, 1000, 3, 2.5), {}),
        "options": (k["axpb"], (8,), (x, out, 1000, 3, 2.5), dict(num_warps=2, num_stages=3)),
        "constexpr str": (k["axpb"], (8,), (x, out, 1000, 3, 2.5), dict(MODE="relu")),
        "constexpr float": (k["axpb"], (8,), (x, out, 1000, 3, 2.5), dict(MODE=-0.0)),
        "constexpr jit function": (k["axpb"], (8,), (x, out, 1000, 3, 2.5), dict(MODE=k["helper"])),
        "ints i32 / i64 / u64": (k["scalars"], (1,), (out, 2**31, 2**63, 3.5), dict(FLAG=True, BLOCK=32)),
        "ints one / 16 / negative": (k["scalars"], (1,), (out, 1, 16, -(2**31)), dict(FLAG=False, BLOCK=32)),
        "float, bool and None constexprs": (k["scalars"], (1,), (out, 7, 1.0, 0.5), dict(FLAG=None, BLOCK=32)),
    }


CASES = ["pointers", "misaligned pointer", "fp16 pointers", "keywords", "callable grid", "options",
         "constexpr str", "constexpr float", "ints i32 / i64 / u64", "ints one / 16 / negative",
         "float, bool and None constexprs"] + (["constexpr jit function"] if V >= (3, 3) else [])  # 3.0-3.2 reject it


@needs_v3
@pytest.mark.parametrize("case", CASES)
def test_hits_are_served_in_c_with_the_native_launch(fake_cuda, case):
    kernel, grid, args, kwargs = _cases()[case]
    kernel[grid](*args, **kwargs)
    native = fake_cuda.calls[-1]
    tritoncompat.launch(kernel, grid, *args, **kwargs)  # a miss: Triton's own path, then cached
    assert tritoncompat.cache_info(kernel).misses == 1
    in_c = not ACCEL_OFF
    assert (type(launcher(kernel)).__name__ == "Accel") is in_c
    for via in ("launch", "patched"):
        hits = tritoncompat.cache_info(kernel).hits
        with Recorder(launcher(kernel)) as seen:
            if via == "launch":
                tritoncompat.launch(kernel, grid, *args, **kwargs)
            else:
                with tritoncompat.patched():
                    kernel[grid](*args, **kwargs)
        assert tritoncompat.cache_info(kernel).hits == hits + 1
        assert (not seen.keys) is in_c, via  # served in C: the Python launcher never ran
        assert_same_launch(fake_cuda.calls[-1], native)
    assert not tritoncompat.cache_info().fallbacks


# ---------------------------------------------------------------- the C key is the Python key

# Values of every key class: ints across the i32/i64/u64 edges (and beyond 64 bits), 1 and the
# divisibility bit, 1 vs 1.0 vs True, None, -0.0 and other floats, pointers of two dtypes and two
# alignments.
INTS = [-(2**64), -(2**63) - 1, -(2**63), -(2**31) - 1, -(2**31), -1, 0, 1, 2, 16, 17, 2**31 - 1, 2**31, 2**32,
        2**63 - 1, 2**63, 2**64 - 1, 2**64]
FLOATS = [1.0, -0.0, 0.0, 0.5, -2.5, 1e300, float("inf")]
VALUES = st.sampled_from(INTS) | st.sampled_from(FLOATS) | st.sampled_from([True, False, None])
POINTERS = st.builds(Ptr, st.sampled_from([0x10000, 0x10004, 0x10001]), st.sampled_from(["float32", "float16"]))
# constexprs: ints (inlined in the key), bools, None, floats (by repr: -0.0 vs 0.0), strings, a
# JITFunction (3.6+ keys on its cache_key), a tl.constexpr
CONSTEXPRS = (st.sampled_from(INTS) | st.sampled_from(FLOATS)
              | st.sampled_from([True, False, None, "relu", "", "none", "HELPER", "CONSTEXPR"]))
OPTIONS = st.sampled_from([{}, {"num_warps": 4}, {"num_warps": 2, "num_stages": 3}, {"debug": False},
                           {"num_stages": 2, "debug": True, "num_warps": 4}, {"num_warps": 4.0}])


def _resolve(value):
    if value == "HELPER":
        return kernels()["helper"]
    if value == "CONSTEXPR":
        return tl.constexpr(8)
    return value


def python_key(kernel, grid, args, kwargs):
    """The key the generated Python launcher looks up for this call (it stops right there)."""
    with Recorder(launcher(kernel), stop=True) as seen:
        try:
            launcher(kernel).py(grid, *args, **kwargs)
        except Recorder.Stop:
            pass
    return seen.keys[-1] if seen.keys else None


@needs_v3
@needs_accel
@given(x=POINTERS, out=POINTERS, n=VALUES, k=VALUES, alpha=VALUES, block=CONSTEXPRS, mode=CONSTEXPRS,
       defaults=st.booleans(), options=OPTIONS, positional=st.integers(0, 7))
def test_property_c_key_is_the_python_key(fake_cuda, x, out, n, k, alpha, block, mode, defaults, options,
                                          positional):
    kernel = kernels()["axpb"]
    tritoncompat.launch(kernel, (1,), Ptr(0x10000), Ptr(0x20000), 1000, 3, 2.5)  # generates the launcher
    fast = launcher(kernel)
    assert type(fast).__name__ == "Accel"
    params = dict(x_ptr=x, out_ptr=out, n=n, k=k, alpha=alpha)
    if not defaults:
        params.update(BLOCK=_resolve(block), MODE=_resolve(mode))
    names = list(params)
    # the first `positional` parameters positionally, the others (and the options) as keywords
    args = tuple(params[name] for name in names[:positional])
    kwargs = {**{name: params[name] for name in names[positional:]}, **options}
    expected = python_key(kernel, (1,), args, kwargs)
    assert expected is not None  # every call here binds: the Python launcher keyed it
    got = fast.key((1,), *args, **kwargs)
    assert got == expected
    assert [type(item) for item in got] == [type(item) for item in expected]
    assert [repr(item) for item in got] == [repr(item) for item in expected]  # -0.0 vs 0.0, nested types


@needs_v3
@needs_accel
def test_the_c_key_follows_the_injected_values(fake_cuda, monkeypatch):
    """The injected options (``debug`` on every release; ``instrumentation_mode`` 3.6+, ...) are
    evaluated in C where their expressions have the 3.4+ forms (_common.injected_program); the key
    follows every source run reads them from, as the Python launcher's does."""
    kernel = kernels()["axpb"]
    args = (Ptr(0x10000), Ptr(0x20000), 1000, 3, 2.5)
    tritoncompat.launch(kernel, (8,), *args)
    fast = launcher(kernel)

    def same(**options):
        got = fast.key((8,), *args, **options)
        assert got == python_key(kernel, (8,), args, options)
        return got

    plain = same()
    assert same(debug=True) != plain
    same(debug=0)  # falsy: run reads the knob as well
    same(debug="yes")
    if hasattr(kernel, "debug"):  # @triton.jit(debug=True), read by run (3.2's run reads no self.debug)
        monkeypatch.setattr(kernel, "debug", True)
        assert same() != plain
        same(debug=False)
        monkeypatch.setattr(kernel, "debug", None)
        assert same() == plain
    monkeypatch.setenv("TRITON_DEBUG", "1")  # 3.3-3.5 read it on every launch; 3.6+ at import
    same()
    monkeypatch.delenv("TRITON_DEBUG")
    knobs = getattr(triton, "knobs", None)
    if knobs is not None:  # 3.4+: a knob set in Python
        monkeypatch.setattr(knobs.runtime, "debug", True)
        assert same() != plain
        monkeypatch.undo()
    assert same() == plain
    if V >= (3, 4):
        assert _launch.backend().module is not None and fast.py.__globals__["_tc_injected"]
        assert _common.injected_program(_injected_sources(kernel), fast.py.__globals__) is not None


def _injected_sources(kernel):
    """The key's injected-value expressions of ``kernel``'s launcher (the ``:=`` items)."""
    import inspect as _inspect

    source = _inspect.getsource(launcher(kernel).py.__globals__["_tc_injected"])
    return [line.strip().rstrip(",") for line in source.splitlines() if ":=" in line]


@needs_v3
@needs_accel
def test_a_repeated_key_sees_every_change_of_the_entries(fake_cuda, monkeypatch):
    """The C path keeps the last key it found, so that a repeat skips hashing it (3.12+: a dict
    watcher; before: the dict's version tag). A clear, an eviction, an entry replaced or deleted by
    hand must each be seen by the next launch: an evicted or replaced entry is never launched."""
    monkeypatch.setenv("TRITONCOMPAT_MAX_ENTRIES", "1")
    _launch.reload()
    try:
        kernel = kernels()["axpb"]
        x, out = Ptr(0x10000), Ptr(0x20000)
        a, b = (x, out, 1000, 3, 2.5), (x, out, 1000, 32, 2.5)  # k=3 and k=32 specialise differently

        def go(args):
            return tritoncompat.launch(kernel, (8,), *args)

        def in_python(args):  # the launch, and whether the Python launcher ran for it
            with Recorder(launcher(kernel)) as seen:
                compiled = go(args)
            assert compiled is kernel[(8,)](*args)
            return bool(seen.keys)

        tritoncompat.cache_clear()
        go(a)
        assert not in_python(a)
        go(b)  # a miss: a is evicted
        info = tritoncompat.cache_info(kernel)
        assert (info.misses, info.evictions, info.entries) == (2, 1, 1)
        assert in_python(a) and tritoncompat.cache_info(kernel).misses == 3  # not the evicted entry
        assert not in_python(a)
        tritoncompat.cache_clear()
        assert in_python(a) and tritoncompat.cache_info(kernel).misses == 1
        assert not in_python(a)
        cache = _launch.kernel_cache(kernel)
        (key, entry), = cache.entries.items()
        compiled = _common.LAYOUT_3X.entry.index("compiled")
        other = type("Other", (), {})()  # the entry holds its compiled kernel weakly
        cache.entries[key] = entry[:compiled] + (weakref.ref(other),) + entry[compiled + 1:]  # replaced by hand
        assert in_python(a)  # not Triton's kernel: the Python launcher decides
        assert not in_python(a)
        del cache.entries[key]
        assert in_python(a)
    finally:
        monkeypatch.undo()
        _launch.reload()


@needs_v3
@needs_accel
@given(steps=st.lists(st.sampled_from(["a", "b", "c", "a again", "clear", "drop", "cache_clear"]), max_size=25))
def test_property_hits_launch_what_triton_launches(fake_cuda, steps):
    """Any sequence of launches (three specialisations; equal but not identical key items: a fresh
    big constexpr int, fresh option tuples) and changes of the entries: every launch returns the
    compiled kernel Triton's own path returns for it."""
    kernel = kernels()["axpb"]
    x, out = Ptr(0x10000), Ptr(0x20000)
    calls = {"a": (x, out, 1000, 3, 2.5), "b": (x, out, 1000, 32, 2.5), "c": (Ptr(0x10004), out, 999, 3, 2.5),
             "a again": (x, out, 1000, 3, 2.5)}
    for step in steps:
        if step in calls:
            args = calls[step]
            kwargs = {"num_warps": 4, "BLOCK": int("512")} if step == "a again" else {}
            assert tritoncompat.launch(kernel, (8,), *args, **kwargs) is kernel[(8,)](*args, **kwargs), step
        elif step == "cache_clear":
            tritoncompat.cache_clear()
        elif (cache := _launch.kernel_cache(kernel)) is not None and cache.entries:
            if step == "clear":
                cache.entries.clear()
            else:
                del cache.entries[next(iter(cache.entries))]


@needs_v3
@needs_accel
def test_the_c_key_of_calls_it_leaves_to_python(fake_cuda):
    kernel = kernels()["axpb"]
    x, out = Ptr(0x10000), Ptr(0x20000)
    tritoncompat.launch(kernel, (1,), x, out, 1000, 3, 2.5)
    fast = launcher(kernel)
    assert fast.key((1,), x, out, 1000, 3) is None  # a missing argument: the Python launcher raises
    assert fast.key((1,), x, out, 1000, 3, 2.5, x_ptr=x) is None  # given twice
    assert fast.key((1,), x, out, 1000, 3, 2.5, 64, None, 5) is None  # too many
    assert fast.key((1,), x, out, 1000, 3, 2.5, _tc_grid=1) is None  # a generated name
    with pytest.raises(Exception, match="argument of type"):  # Unsupported: the Python launcher goes native
        fast.key((1,), x, out, object(), 3, 2.5)


# ---------------------------------------------------------------- a call that raises


def _bad_calls():
    x, out = Ptr(0x10000), Ptr(0x20000)
    return {
        "too few arguments": ((x, out, 1000), {}),
        "too many arguments": ((x, out, 1000, 3, 2.5, 128, None, 7), {}),
        "duplicate argument": ((x, out, 1000, 3, 2.5), {"x_ptr": x}),
        "duplicate constexpr": ((x, out, 1000, 3, 2.5, 64), {"BLOCK": 64}),
        "unknown keyword": ((x, out, 1000, 3, 2.5), {"bogus": 1}),
        "unhashable constexpr": ((x, out, 1000, 3, 2.5), {"BLOCK": [64]}),
    }


BINDING_ERRORS = {"too few arguments", "too many arguments", "duplicate argument", "duplicate constexpr"}


@needs_v3
@pytest.mark.parametrize("bad", sorted(_bad_calls()))
@pytest.mark.parametrize("via", ["launch", "patched"])
@pytest.mark.parametrize("cached", [False, True], ids=["first launch", "after a hit"])
def test_a_call_that_raises_counts_no_hit_and_launches_nothing(fake_cuda, bad, via, cached):
    kernel = kernels()["axpb"]
    x, out = Ptr(0x10000), Ptr(0x20000)
    if cached:  # the kernel has its launcher and a cached entry the bad call could hit
        for _ in range(2):
            tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    args, kwargs = _bad_calls()[bad]
    try:
        kernel[(8,)](*args, **kwargs)
    except Exception as exc:
        native = exc
    else:
        native = None
    before = tritoncompat.cache_info(kernel), tritoncompat.cache_info(), len(fake_cuda.calls)

    def ours():
        if via == "launch":
            return tritoncompat.launch(kernel, (8,), *args, **kwargs)
        with tritoncompat.patched():
            return kernel[(8,)](*args, **kwargs)

    if native is None:  # a release that accepts it on the fake driver: the fast path launches it too
        ours()
        return
    with pytest.raises(type(native)) as raised:
        ours()
    if bad in BINDING_ERRORS and (via == "launch" or type(tritoncompat.launch).__name__ == "Launch"):
        assert str(raised.value) == str(native)  # Triton's own message (patched: with the C dispatcher)
    after = tritoncompat.cache_info(kernel), tritoncompat.cache_info(), len(fake_cuda.calls)
    assert after[0].hits == before[0].hits and after[1].hits == before[1].hits, (before, after)
    assert after[0].entries == before[0].entries  # nothing cached
    assert after[2] == before[2]  # nothing launched
    # the kernel is still usable, and still fast
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    hits = tritoncompat.cache_info(kernel).hits
    tritoncompat.launch(kernel, (8,), x, out, 1000, 3, 2.5)
    assert tritoncompat.cache_info(kernel).hits == hits + 1


# ---------------------------------------------------------------- references


@needs_v3
def test_no_reference_leaks_on_the_c_paths(fake_cuda):
    kernel = kernels()["axpb"]
    x, out = Ptr(0x10000), Ptr(0x20000)
    grid = (8,)

    def meta(m):
        return (8,)

    # A str of this test's own: the literal "relu" is interned, shared with the whole process, and
    # its count moves with whatever else holds that word (a CI run saw 111 -> 112 once on t340).
    relu = "".join(["re", "lu"])

    def launches():
        for _ in range(200):
            tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)  # a hit, in C
            tritoncompat.launch(kernel, meta, x, out, 1000, 3, 2.5, BLOCK=128, MODE=relu)  # callable grid, keywords
            launcher(kernel)(grid, x, out, 1000, 3, 2.5, num_warps=4)  # options, through the Accel
            with tritoncompat.patched():
                kernel[grid](x, out, 1000, 3, 2.5)
            with pytest.raises(TypeError):
                tritoncompat.launch(kernel, grid, x, out, 1000, 3)  # a missing argument: Python raises
            with pytest.raises(TypeError):
                tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5, x_ptr=x)  # given twice
        fake_cuda.calls.clear()

    launches()  # compiles, fills the caches
    compiled = tritoncompat.launch(kernel, grid, x, out, 1000, 3, 2.5)
    fake_cuda.calls.clear()
    gc.collect()
    watched = (x, out, grid, meta, compiled, kernel, relu, 2.5, launcher(kernel))
    before = [sys.getrefcount(o) for o in watched]
    launches()
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == before


@needs_accel
def test_dispatcher_sees_every_change_of_run_and_getitem():
    """The C dispatcher's test that kernel.run / __getitem__ are ones the fast path reproduces
    (``run_intact``) remembers a good class by its version tag: setting or deleting the attribute
    on the class or on a base, or setting it on the instance, is seen by the very next launch
    (Python 3.10 - 3.13: the tag's validity moved from a flag to 0 in 3.13)."""
    module = _accel.load()
    assert module is not None, _accel.state()

    def run(self):
        pass

    def getitem(self, grid):
        pass

    def other(self, *args):
        pass

    Base = type("Base", (), {"__getitem__": getitem})
    K = type("K", (Base,), {"run": run})
    handed = []
    kernel = K()
    kernel.__dict__["_launch"] = lambda grid, *args: "fast"
    dispatch = module.Launch(lambda k, grid, *args: handed.append(1) or "checked", "_launch", False,
                             [run, getitem], "_kept")
    steps = [
        (lambda: None, "fast"), (lambda: None, "fast"),
        (lambda: setattr(K, "run", other), "checked"), (lambda: setattr(K, "run", run), "fast"),
        (lambda: setattr(Base, "__getitem__", other), "checked"), (lambda: setattr(Base, "__getitem__", getitem), "fast"),
        (lambda: delattr(K, "run"), "checked"), (lambda: setattr(K, "run", run), "fast"),
        (lambda: setattr(kernel, "run", run), "checked"), (lambda: delattr(kernel, "run"), "fast"),
        (lambda: kernel.__dict__.update(run=run, _kept=run), "fast"),  # 2.1: the generated run, kept
        (lambda: kernel.__dict__.update(run=other), "checked"),
    ]
    for i, (change, expected) in enumerate(steps):
        change()
        assert dispatch(kernel, (1,)) == expected, (i, expected)
