"""Other libraries that reach into Triton, in the same process as ``patch()`` / ``launch()``.

Each scenario runs three ways, on fresh kernels, under the fake CUDA driver: natively (Triton's own
``kernel[grid]``), patched (``tritoncompat.patch()`` then ``kernel[grid]``) and through
``tritoncompat.launch()``; what the other library's code saw (how often its replacement ran) and
what reached the compiled kernel's launcher must be the same. Order-sensitive process-level
scenarios (a library patching before ``import tritoncompat``) are in tests/test_fresh_process.py.
"""

import functools
import gc
import threading
import weakref

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
from tritoncompat import _launch, _patch
from tritoncompat.backends import _common
from tritoncompat.testing import TRITON_VERSION as V

pytestmark = [pytest.mark.triton,
              pytest.mark.skipif(_launch.backend().module is None, reason="no backend for this Triton")]

MODES = ["native", "patched", "launch"]


def _kernels():
    """Fresh kernels (defined after the fake driver is installed: 2.1 binds its device functions)."""

    @triton.jit
    def add(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1.0, mask=m)

    @triton.autotune(configs=[triton.Config({"BLOCK": 32}, num_warps=1), triton.Config({"BLOCK": 64}, num_warps=2)],
                     key=["n"])
    @triton.jit
    def tuned(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + 2.0, mask=m)

    @triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
    @triton.jit
    def heur(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 3.0)

    @triton.autotune(configs=[triton.Config({"BLOCK": 32}), triton.Config({"BLOCK": 64})], key=["n"])
    @triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
    @triton.jit
    def tuned_heur(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 4.0)

    return dict(add=add, tuned=tuned, heur=heur, tuned_heur=tuned_heur)


def _call(name):
    """``(grid, args, kwargs)`` of one launch of kernel ``name``."""
    x = torch.randn(128)
    if name == "add":
        return (2,), (x, torch.empty_like(x), 100), dict(BLOCK=64)
    if name == "heur":
        return (2,), (x, torch.empty_like(x), 128), dict(BLOCK=64)
    return (lambda m: (triton.cdiv(100, m["BLOCK"]),)), (x, torch.empty_like(x), 100), {}


def _launch_it(mode, kernel, grid, args, kwargs):
    if mode == "launch":
        return tritoncompat.launch(kernel, grid, *args, **kwargs)
    return kernel[grid](*args, **kwargs)


def _shape(calls):
    """What reached the launcher, as comparable across kernels and processes: the grid, the stream
    and the kernel's arguments (a tensor as its dtype), not the function handle, metadata or the
    (idle) hooks."""
    layout = _launch.backend().module.LAUNCHER_LAYOUT
    return [tuple(call[:3]) + (call[layout["stream_slot"]],)
            + tuple(str(v.dtype) if hasattr(v, "dtype") else v for v in call[layout["args_slot"]:]) for call in calls]


def _counting(seen, label, target):
    def replacement(*args, **kwargs):
        seen.append(label)
        return target(*args, **kwargs)

    return replacement


# ---------------------------------------------------------------- 1. instance-level overrides

OVERRIDES = [
    # (kernel launched, what gets the instance-level run override)
    ("add", "kernel"),
    ("tuned", "kernel"),  # Autotuner.run replaced on the autotuner
    ("tuned", "fn"),  # the JITFunction under the autotuner: Autotuner.run calls self.fn.run
    ("heur", "kernel"),
    ("heur", "fn"),  # Heuristics.run calls self.fn.run
    ("tuned_heur", "fn"),  # the Heuristics between an autotuner and its kernel
    ("tuned_heur", "fn.fn"),  # the JITFunction under both
]


def _instance_scenario(fake, mode, name, where, when):
    kernel = _kernels()[name]
    target = kernel if where == "kernel" else functools.reduce(getattr, where.split("."), kernel)
    seen = []
    if mode == "patched" and when == "after":
        tritoncompat.patch()
    # the issue's library: keeps the run it finds, replaces it on this one instance
    target.run = _counting(seen, "override", target.run)
    if mode == "patched" and when == "before":
        tritoncompat.patch()
    fake.calls.clear()
    for _ in range(3):
        grid, args, kwargs = _call(name)
        _launch_it(mode, kernel, grid, args, kwargs)
    return len(seen), _shape(fake.calls)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name,where", OVERRIDES)
def test_instance_run_override_runs_as_natively(fake_cuda, name, where, when):
    """A run replaced on one instance (JITFunction, Autotuner, Heuristics, or the one under a
    wrapper) runs on every launch, as natively, before or after patch(), and through launch()."""
    native = _instance_scenario(fake_cuda, "native", name, where, when)
    assert native[0] >= 3, native
    for mode in ("patched", "launch"):
        _launch.reload()
        tritoncompat.cache_clear()
        got = _instance_scenario(fake_cuda, mode, name, where, when)
        assert got == native, (mode, got, native)
        # an entry point that would have skipped the replaced run counts it: kernel[grid] or launch()
        # on every launch, the autotuner memo on its hits (the first launch tunes through Triton's run)
        counted = tritoncompat.cache_info().fallbacks.get("run replaced", 0)
        if where == "kernel" and (name == "add" or mode == "launch"):
            assert counted >= 3, tritoncompat.cache_info()
        elif where != "kernel" and (name.startswith("tuned") or (name == "heur" and mode == "launch")):
            assert counted >= 1, tritoncompat.cache_info()
        tritoncompat.unpatch()


def test_issue_minimal_repro(fake_cuda):
    """The issue's repro: 3 of 3 calls reach the instance override under patch(), and the override
    calling the run it kept (Triton's own) still launches; a later override that keeps the
    patched run reaches the fast path through it."""
    k = _kernels()["add"]
    x, out = torch.randn(16), torch.empty(16)
    calls = []
    orig = k.run

    def override(*a, **kw):
        calls.append(1)
        return orig(*a, **kw)

    k.run = override
    tritoncompat.patch()
    for _ in range(3):
        k[(1,)](x, out, 10, BLOCK=16)
    assert len(calls) == 3
    assert len(fake_cuda.calls) == 3

    # replaced after patch(): the run it keeps is the patched one, which takes the fast path
    del k.run
    if V < (2, 2):  # 2.1: deleting the override leaves no run on the instance; put Triton's back
        k.__dict__["run"] = orig
    kept = k.run
    calls2 = []

    def override2(*a, **kw):
        calls2.append(1)
        return kept(*a, **kw)

    k.run = override2
    for _ in range(3):
        k[(1,)](x, out, 10, BLOCK=16)
    assert len(calls2) == 3 and len(fake_cuda.calls) == 6
    assert tritoncompat.cache_info(k).hits >= 2
    # and without it again: straight to the fast path, no fallback counted
    del k.run
    if V < (2, 2):
        k.__dict__["run"] = orig
    before = tritoncompat.cache_info().fallbacks.get("run replaced", 0)
    hits = tritoncompat.cache_info(k).hits
    k[(1,)](x, out, 10, BLOCK=16)
    assert tritoncompat.cache_info(k).hits == hits + 1
    assert tritoncompat.cache_info().fallbacks.get("run replaced", 0) == before


def test_instance_warmup_override_and_warmup_through_a_run_override(fake_cuda):
    """``warmup`` replaced on the instance runs when called, patched as natively; Triton's own
    ``warmup`` goes through an instance ``run`` override (it calls ``self.run``), patched too."""
    results = {}
    for mode in ("native", "patched"):
        _launch.reload()
        k = _kernels()["add"]
        seen = []
        if mode == "patched":
            tritoncompat.patch()
        k.run = _counting(seen, "run", k.run)
        x, out = torch.randn(128), torch.empty(128)
        k.warmup(x, out, 100, BLOCK=64, grid=(2,))
        k.warmup = _counting(seen, "warmup", k.warmup)
        k.warmup(x, out, 100, BLOCK=32, grid=(2,))
        k[(2,)](x, out, 100, BLOCK=64)
        results[mode] = (seen, _shape(fake_cuda.calls))
        fake_cuda.calls.clear()
        tritoncompat.unpatch()
    assert results["native"][0] == ["run", "warmup", "run", "run"], results
    assert results["patched"] == results["native"]


@pytest.mark.parametrize("mode", ["patched", "launch"])
def test_instance_run_replaced_by_a_non_callable(fake_cuda, mode):
    """``kernel.run = None``: Triton's own error (calling it), never a launch."""
    k = _kernels()["add"]
    x, out = torch.randn(16), torch.empty(16)
    k.run = None
    with pytest.raises(TypeError) as native:
        k[(1,)](x, out, 10, BLOCK=16)
    if mode == "patched":
        tritoncompat.patch()
    with pytest.raises(TypeError) as got:
        _launch_it(mode, k, (1,), (x, out, 10), dict(BLOCK=16))
    assert str(got.value) == str(native.value)
    assert fake_cuda.calls == []


# ---------------------------------------------------------------- 2. class-level replacements

def _jit_class():
    from triton.runtime.jit import JITFunction

    return JITFunction


def _autotuner_class():
    from triton.runtime.autotuner import Autotuner

    return Autotuner


def _heuristics_class():
    from triton.runtime.autotuner import Heuristics

    return Heuristics


def _vllm_force_first_config(seen):
    """A replacement of ``Autotuner.run`` in the manner of vLLM's ``VLLM_TRITON_FORCE_FIRST_CONFIG``
    (vllm/triton_utils/force_first_config.py), written here: no tuning, the first config,
    launched through ``self.fn.run``; Triton's run is never called."""

    def _run_first_valid_config(self, *args, **kwargs):
        seen.append("vllm")
        config = self.configs[0]
        kwargs = {**kwargs, **config.all_kwargs()} if hasattr(config, "all_kwargs") else {**kwargs, **config.kwargs}
        result = self.fn.run(*args, **kwargs)
        self.best_config = config
        return result

    return _run_first_valid_config


def _class_scenario(fake, monkeypatch, mode, order, owner, name, make):
    """Launch each kernel kind 3 times with ``owner.<name>`` replaced by ``make(seen, kept)``
    (``kept``: what was there), installed ``order`` patch() ("before" / "after")."""
    kernels = _kernels()
    seen = []
    if mode == "patched" and order == "after":
        tritoncompat.patch()
    monkeypatch.setattr(owner, name, make(seen, getattr(owner, name)))
    if mode == "patched" and order == "before":
        tritoncompat.patch()
    fake.calls.clear()
    for kname in ("add", "tuned", "heur", "tuned_heur"):
        for _ in range(3):
            grid, args, kwargs = _call(kname)
            _launch_it(mode, kernels[kname], grid, args, kwargs)
    return sorted(seen), _shape(fake.calls)


def _wrapping(seen, kept):
    @functools.wraps(kept)
    def replacement(*args, **kwargs):  # a library's tracing/fix-up wrapper, functools.wraps style
        seen.append("wrapper")
        return kept(*args, **kwargs)

    return replacement


CLASS_CASES = [
    ("JITFunction.run", _jit_class, "run", _wrapping),
    ("JITFunction.__getitem__", _jit_class, "__getitem__", _wrapping),
    ("Autotuner.run wrapped", _autotuner_class, "run", _wrapping),
    ("Autotuner.run vLLM", _autotuner_class, "run", lambda seen, kept: _vllm_force_first_config(seen)),
    ("Heuristics.run wrapped", _heuristics_class, "run", _wrapping),
]


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("case", CLASS_CASES, ids=[c[0] for c in CLASS_CASES])
def test_class_level_replacement_runs_as_natively(fake_cuda, monkeypatch, case, order):
    """Another library's replacement of a Triton class attribute, installed before or after
    patch(): it runs as often as natively, and the launches are the same; unpatch() leaves a
    replacement installed after patch() in place."""
    _, owner_of, name, make = case
    if V < (2, 2) and owner_of is _jit_class and name == "run":
        pytest.skip("2.1: JITFunction.run is a per-instance attribute (see the instance tests)")
    owner = owner_of()
    original = vars(owner).get(name)
    native = _class_scenario(fake_cuda, monkeypatch, "native", order, owner, name, make)
    assert native[0], native
    monkeypatch.undo()
    for mode in ("patched", "launch"):
        _launch.reload()
        got = _class_scenario(fake_cuda, monkeypatch, mode, order, owner, name, make)
        assert got == native, (mode, got, native)
        if mode == "patched":  # replaced before patch(): left to them, and listed
            left = [entry.split(":")[0] for entry in _patch.left_alone()]
            assert (f"{owner.__name__}.{name}" in left) == (order == "before"), left
        theirs = vars(owner).get(name)
        tritoncompat.unpatch()
        assert vars(owner).get(name) is theirs  # never clobbered, whoever came first
        monkeypatch.undo()
        # (order "after": the library's undo put back what it had kept, our replacement, now
        # inert; the next patch() / unpatch() pair takes it for the original it stands for)
        tritoncompat.patch()
        tritoncompat.unpatch()
        assert vars(owner).get(name) is original


def test_replacement_after_patch_calls_ours_and_ours_turns_inert(fake_cuda, monkeypatch):
    """A library wraps the patched JITFunction.run (keeping ours as its original): launches run its
    wrapper and then the fast path; after unpatch() its wrapper stays, and ours, which it still
    calls, is Triton's own path (no fast hit), with JITFunction.__getitem__ restored."""
    JITFunction = _jit_class()
    if V < (2, 2):
        pytest.skip("2.1: JITFunction.run is a per-instance attribute")
    original_getitem = vars(JITFunction).get("__getitem__")
    k = _kernels()["add"]
    tritoncompat.patch()
    seen = []
    ours = JITFunction.run
    monkeypatch.setattr(JITFunction, "run", _wrapping(seen, ours))
    for _ in range(3):
        k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
    assert len(seen) == 3 and tritoncompat.cache_info(k).hits >= 2
    tritoncompat.unpatch()
    assert vars(JITFunction)["run"] is not ours  # theirs, still
    assert vars(JITFunction).get("__getitem__") is original_getitem
    hits = tritoncompat.cache_info(k).hits
    k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
    assert len(seen) == 4 and tritoncompat.cache_info(k).hits == hits
    assert len(fake_cuda.calls) == 4
    monkeypatch.undo()  # the library's own undo puts back what it kept: ours, inert
    assert vars(JITFunction)["run"] is ours
    k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
    assert tritoncompat.cache_info(k).hits == hits and len(fake_cuda.calls) == 5
    tritoncompat.patch()  # takes it for the original it stands for
    tritoncompat.unpatch()
    assert vars(JITFunction)["run"] is _common.tritons_own(JITFunction, "run")


@pytest.mark.parametrize("mode", ["patched", "launch"])
def test_replacement_between_hits_is_seen_by_the_next_launch(fake_cuda, monkeypatch, mode):
    """Fast hits first; then a library replaces JITFunction.run (and later puts it back): the very
    next launch runs its replacement, and the one after it is a fast hit again."""
    JITFunction = _jit_class()
    if V < (2, 2):
        pytest.skip("2.1: JITFunction.run is a per-instance attribute")
    k = _kernels()["add"]
    args = (torch.randn(128), torch.empty(128), 100)
    if mode == "patched":
        tritoncompat.patch()
    for _ in range(3):
        _launch_it(mode, k, (2,), args, dict(BLOCK=64))
    hits = tritoncompat.cache_info(k).hits
    assert hits == 2
    seen = []
    monkeypatch.setattr(JITFunction, "run", _wrapping(seen, JITFunction.run))
    _launch_it(mode, k, (2,), args, dict(BLOCK=64))
    assert len(seen) == 1
    monkeypatch.undo()
    _launch_it(mode, k, (2,), args, dict(BLOCK=64))
    assert len(seen) == 1 and tritoncompat.cache_info(k).hits >= hits + 1
    k.run = _counting(seen, "instance", k.run)  # and on the instance, between hits
    _launch_it(mode, k, (2,), args, dict(BLOCK=64))
    assert seen == ["wrapper", "instance"]
    assert len(fake_cuda.calls) == 6


def test_library_restoring_tritons_run_leaves_no_half_patch(fake_cuda, monkeypatch):
    """A library that kept Triton's JITFunction.run before patch() and puts it back after (its own
    'unpatch'): launches stay right (the fast path serves them: Triton's run is what runs natively),
    and unpatch() then restores everything that is still ours."""
    JITFunction = _jit_class()
    if V < (2, 2):
        pytest.skip("2.1: JITFunction.run is a per-instance attribute")
    before = {n: vars(JITFunction).get(n) for n in ("run", "__getitem__")}
    k = _kernels()["add"]
    tritoncompat.patch()
    JITFunction.run = before["run"]  # the other library's restore
    for _ in range(3):
        k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
    assert len(fake_cuda.calls) == 3 and tritoncompat.cache_info(k).hits >= 2
    tritoncompat.unpatch()
    assert {n: vars(JITFunction).get(n) for n in before} == before


@pytest.mark.parametrize("damage", ["deleted", "non-callable"])
def test_patched_attribute_deleted_or_broken_by_a_library(fake_cuda, monkeypatch, damage):
    """A library deletes (or replaces with a non-callable) the JITFunction.run that patch()
    installed: the launch raises what it raises natively after the same damage, nothing launches,
    and unpatch() does not put anything back over it."""
    JITFunction = _jit_class()
    if V < (2, 2):
        pytest.skip("2.1: JITFunction.run is a per-instance attribute")
    k = _kernels()["add"]
    args = (torch.randn(128), torch.empty(128), 100)

    def damage_it():
        if damage == "deleted":
            monkeypatch.delattr(JITFunction, "run")
        else:
            monkeypatch.setattr(JITFunction, "run", 42)

    damage_it()
    with pytest.raises(Exception) as native:  # 3.x: KernelInterface.run raises NotImplementedError
        k[(2,)](*args, BLOCK=64)
    monkeypatch.undo()
    tritoncompat.patch()
    damage_it()
    for mode in ("patched", "launch"):
        with pytest.raises(type(native.value)) as got:
            _launch_it(mode, k, (2,), args, dict(BLOCK=64))
        assert str(got.value) == str(native.value)
    assert fake_cuda.calls == []
    tritoncompat.unpatch()
    assert vars(JITFunction).get("run", "gone") == ("gone" if damage == "deleted" else 42)
    monkeypatch.undo()  # puts back what it found: ours, inert; patch() / unpatch() then restore Triton's
    tritoncompat.patch()
    tritoncompat.unpatch()
    assert vars(JITFunction)["run"] is _common.tritons_own(JITFunction, "run") is not None


def test_patch_and_unpatch_from_many_threads(fake_cuda):
    """patch()/unpatch() raced from several threads: no error, no recursion, and the classes end
    with Triton's own attributes; launches in between are right."""
    JITFunction, Autotuner = _jit_class(), _autotuner_class()
    before = {(c, n): _common.tritons_own(c, n) for c in (JITFunction, Autotuner) for n in ("run", "__getitem__")}
    k = _kernels()["add"]
    # compiled first: CPython 3.11's ast constructors are not thread-safe ("AST constructor
    # recursion depth mismatch" seen here), and Triton parses the kernel's source when it compiles
    k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
    errors = []
    barrier = threading.Barrier(6)

    def worker(i):
        try:
            barrier.wait()
            for j in range(30):
                (tritoncompat.patch if (i + j) % 2 else tritoncompat.unpatch)()
                if j % 10 == 0:
                    k[(2,)](torch.randn(128), torch.empty(128), 100, BLOCK=64)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    tritoncompat.unpatch()
    assert {key: vars(key[0]).get(key[1]) for key in before} == before
    assert len(fake_cuda.calls) == 19


# ---------------------------------------------------------------- 3. subclasses


def _fla_cached_autotuner(seen):
    """flash-linear-attention's ``CachedAutotuner`` shape (fla/ops/utils/cache.py): a subclass of
    Triton's Autotuner whose run does its own work, then ``super().run``."""
    Autotuner = _autotuner_class()

    class CachedAutotuner(Autotuner):
        def run(self, *args, **kwargs):
            seen.append("fla")
            return super().run(*args, **kwargs)

    CachedAutotuner.__module__ = "fla.ops.utils.cache"
    return CachedAutotuner


def _foreign_named_autotuner(seen):
    """Another package's class *named* Autotuner (a subclass of Triton's, overriding run)."""
    Autotuner = _autotuner_class()

    def run(self, *args, **kwargs):
        seen.append("foreign")
        return Autotuner.run(self, *args, **kwargs)

    return type("Autotuner", (Autotuner,), {"run": run, "__module__": "someones.autotuner"})


def _jit_subclass(seen):
    JITFunction = _jit_class()

    def run(self, *args, **kwargs):
        seen.append("jit subclass")
        return super(cls, self).run(*args, **kwargs)

    cls = type("TracedJITFunction", (JITFunction,), {"run": run, "__module__": "somelib.jit"})
    return cls


SUBCLASSES = [("tuned", _fla_cached_autotuner), ("tuned", _foreign_named_autotuner), ("add", _jit_subclass)]


@pytest.mark.parametrize("name,make", SUBCLASSES, ids=["fla CachedAutotuner", "foreign Autotuner", "JITFunction subclass"])
def test_subclass_overriding_run_is_served_through_it(fake_cuda, name, make):
    """A subclass overriding run (or a foreign class named Autotuner) is never mistaken for
    Triton's class, and its run runs on every launch, patched and through launch()."""
    if V < (2, 2) and name == "add":
        pytest.skip("2.1: the generated instance run shadows a subclass's run natively too")
    results = {}
    for mode in MODES:
        _launch.reload()
        kernel = _kernels()[name]
        seen = []
        kernel.__class__ = make(seen)
        assert _common.kind(kernel) in ("other", "jit subclass")
        if mode == "patched":
            tritoncompat.patch()
        fake_cuda.calls.clear()
        for _ in range(3):
            grid, args, kwargs = _call(name)
            _launch_it(mode, kernel, grid, args, kwargs)
        results[mode] = (len(seen), _shape(fake_cuda.calls))
        tritoncompat.unpatch()
    assert results["native"][0] == 3
    assert results["patched"] == results["native"] == results["launch"], results


# ---------------------------------------------------------------- 4. cache entries deleted by others


def _native_dict(kernel, device):
    """Triton's {key: CompiledKernel} of ``device`` (3.3+ ``device_caches[d][0]``, else ``cache[d]``)."""
    if V >= (3, 3):
        return kernel.device_caches[device][0]
    return kernel.cache[device]


@pytest.mark.parametrize("mode", MODES)
def test_deleted_cache_entry_is_not_kept_alive(fake_cuda, mode):
    """vLLM deletes entries of Triton's per-device cache to unload modules: after such a delete
    nothing of tritoncompat keeps the compiled kernel alive (a weak reference to it dies, as
    natively), and the next launch compiles it again, as natively."""
    k = _kernels()["add"]
    if mode == "patched":
        tritoncompat.patch()
    x, out = torch.randn(128), torch.empty(128)
    for _ in range(3):  # a miss, then hits (the fast path's entry holds it)
        compiled = _launch_it(mode, k, (2,), (x, out, 100), dict(BLOCK=64))
    native = _native_dict(k, fake_cuda.device)
    (key,) = [key for key, value in native.items() if value is compiled]
    ref = weakref.ref(compiled)
    del compiled
    del native[key]  # vLLM's unload
    launched = len(fake_cuda.calls)
    fake_cuda.calls.clear()  # 2.x: the fake's record of each launch holds the compiled kernel (c_wrapper's bin)
    gc.collect()
    assert ref() is None, gc.get_referrers(ref())
    misses = tritoncompat.cache_info(k).misses
    again = _launch_it(mode, k, (2,), (x, out, 100), dict(BLOCK=64))
    assert native[key] is again  # compiled again, under the same key
    if mode != "native":
        assert tritoncompat.cache_info(k).misses == misses + 1
        _launch_it(mode, k, (2,), (x, out, 100), dict(BLOCK=64))
        assert tritoncompat.cache_info(k).hits >= 3
    assert launched + len(fake_cuda.calls) == (4 if mode == "native" else 5)


# ---------------------------------------------------------------- 5. torch.compile in the same process


@pytest.mark.gpu
@pytest.mark.parametrize("compiled_first", [True, False], ids=["compiled before patch()", "compiled after patch()"])
def test_torch_compile_beside_patched_eager_launches(compiled_first):
    """torch.compile (Inductor) calling a user Triton kernel in the same process as patched eager
    launches of it: the same outputs, and no recompile caused by tritoncompat (Dynamo errors on
    any). GPU only: on CPU tensors Inductor does not run user Triton kernels."""
    import torch._dynamo

    if not hasattr(torch, "compile"):
        pytest.skip("torch has no torch.compile")
    k = _kernels()["add"]

    def f(x):
        out = torch.empty_like(x)
        n = x.numel()
        k[(triton.cdiv(n, 64),)](x, out, n, BLOCK=64)
        return out * 2

    x = torch.randn(1000, device="cuda")
    expected = f(x)  # Triton's own launch
    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True)
    with torch._dynamo.config.patch(error_on_recompile=True):
        if compiled_first:
            torch.testing.assert_close(compiled(x), expected)
        tritoncompat.patch()
        for _ in range(3):
            torch.testing.assert_close(f(x), expected)  # patched eager: the fast path
            torch.testing.assert_close(compiled(x), expected)
        assert tritoncompat.cache_info(k).hits >= 2
        tritoncompat.unpatch()
        torch.testing.assert_close(compiled(x), expected)
        torch.testing.assert_close(f(x), expected)
    torch.cuda.synchronize()
