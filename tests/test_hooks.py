"""Launch hooks: idle hooks pass None; an installed hook gets what Triton gives it."""

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
from tritoncompat import _launch, _version

import corpus

pytestmark = [pytest.mark.triton]
V = corpus.V
# 3.x: the launcher takes (launch_metadata, enter, exit) at LAUNCHER_LAYOUT["hook_slots"]
needs_3x = pytest.mark.skipif(_version.detect().backend not in ("v3_0", "v3_3"), reason="hooks of the 3.x backends")


def install_enter_hook(hook):
    """Install a launch-enter hook the way this release expects; return the undo."""
    if V >= (3, 5):
        from triton import knobs

        knobs.runtime.launch_enter_hook.add(hook)
        return lambda: knobs.runtime.launch_enter_hook.remove(hook)
    if V >= (3, 4):
        from triton import knobs

        knobs.runtime.launch_enter_hook = hook
        return lambda: setattr(knobs.runtime, "launch_enter_hook", None)
    from triton.compiler.compiler import CompiledKernel

    CompiledKernel.launch_enter_hook = hook
    return lambda: setattr(CompiledKernel, "launch_enter_hook", None)


@needs_3x
def test_idle_hooks_pass_none(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    slots = _launch.backend().module.LAUNCHER_LAYOUT["hook_slots"]
    assert tuple(fake_cuda.calls[-1][i] for i in slots) == (None, None, None)


@needs_3x
def test_installed_hook_is_seen_on_the_next_launch(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    undo = install_enter_hook(lambda metadata: None)
    try:
        kernel[grid](*args, **kwargs)
        native = fake_cuda.calls[-1]
        hits = tritoncompat.cache_info().hits
        tritoncompat.launch(kernel, grid, *args, **kwargs)
        fast = fake_cuda.calls[-1]
        assert tritoncompat.cache_info().hits == hits + 1
    finally:
        undo()
    md, enter, leave = _launch.backend().module.LAUNCHER_LAYOUT["hook_slots"]
    assert fast[enter] is native[enter] and fast[leave] is native[leave]  # the same hook objects
    assert type(fast[md]) is type(native[md]) and fast[md] is not None
    assert dict(fast[md].get()) == dict(native[md].get())  # the metadata a profiler receives
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert fake_cuda.calls[-1][md] is None  # removed: idle again


@pytest.mark.skipif(_version.detect().backend not in ("v2_1", "v2_2", "v2_3"), reason="hooks of the 2.x backends")
def test_2x_hooks_installed_and_removed_between_launches(fake_cuda):
    """2.x: the launcher always takes CompiledKernel's class-attribute hooks (enter, exit); the
    fast path reads them on every launch."""
    from triton.compiler.compiler import CompiledKernel

    name, kernel, grid, args, kwargs = corpus.cases()[0]
    enter, leave = _launch.backend().module.LAUNCHER_LAYOUT["hook_slots"]
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert fake_cuda.calls[-1][enter] is None and fake_cuda.calls[-1][leave] is None

    def hook(*_):
        pass

    undo = install_enter_hook(hook)
    try:
        kernel[grid](*args, **kwargs)
        native = fake_cuda.calls[-1]
        hits = tritoncompat.cache_info().hits
        tritoncompat.launch(kernel, grid, *args, **kwargs)
        assert tritoncompat.cache_info().hits == hits + 1
        assert fake_cuda.calls[-1][enter] is hook is native[enter]
        assert fake_cuda.calls[-1][leave] is native[leave] is CompiledKernel.launch_exit_hook
    finally:
        undo()
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert fake_cuda.calls[-1][enter] is None


@pytest.mark.skipif(_version.detect().backend not in _version.BACKENDS, reason="no backend for this release")
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_a_hook_that_raises(fake_cuda, via):
    """An enter hook that raises: the same exception as natively, launched or not as natively
    (2.1 launches, then raises; 2.2+ stop before the launch), and the kernel fast again once the
    hook is gone. The fake launchers call the hooks as the real ones do."""
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    tritoncompat.launch(kernel, grid, *args, **kwargs)

    def hook(*_):
        raise LookupError("hook")

    undo = install_enter_hook(hook)
    try:
        calls = len(fake_cuda.calls)
        with pytest.raises(LookupError, match="hook"):
            kernel[grid](*args, **kwargs)
        launched_natively = len(fake_cuda.calls) - calls
        assert launched_natively == (1 if V < (2, 2) else 0)
        for _ in range(2):
            calls = len(fake_cuda.calls)
            with pytest.raises(LookupError, match="hook"):
                if via == "launch":
                    tritoncompat.launch(kernel, grid, *args, **kwargs)
                else:
                    with tritoncompat.patched():
                        kernel[grid](*args, **kwargs)
            assert len(fake_cuda.calls) - calls == launched_natively
    finally:
        undo()
    hits = tritoncompat.cache_info().hits
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert tritoncompat.cache_info().hits == hits + 1 and not tritoncompat.cache_info().fallbacks


@pytest.mark.skipif(_version.detect().backend not in _version.BACKENDS, reason="no backend for this release")
def test_compile_cache_hook_fires_on_misses_as_natively(fake_cuda, monkeypatch):
    """Triton's JIT cache hook (``JITFunction.cache_hook``; 3.4+ ``knobs.runtime.jit_cache_hook``)
    fires when Triton compiles: as often through the fast path as natively."""
    fired = []

    def hook(*args, **kwargs):
        fired.append(1)
        return False  # compile as usual

    if V >= (3, 4):
        from triton import knobs

        monkeypatch.setattr(knobs.runtime, "jit_cache_hook", hook)
    else:
        from triton.runtime.jit import JITFunction

        monkeypatch.setattr(JITFunction, "cache_hook", hook)

    def make():
        @triton.jit
        def hooked(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
            offs = tl.arange(0, BLOCK)
            tl.store(out_ptr + offs, tl.load(x_ptr + offs) + n)

        return hooked

    x, out = torch.randn(64), torch.empty(64)
    sequence = [3, 3, 16, 3, 16, 16]  # two specializations (16 is divisible by 16)

    def count(launch):
        kernel = make()
        fired.clear()
        for n in sequence:
            launch(kernel, n)
        return len(fired)

    native = count(lambda kernel, n: kernel[(1,)](x, out, n, BLOCK=64))
    ours = count(lambda kernel, n: tritoncompat.launch(kernel, (1,), x, out, n, BLOCK=64))
    assert native == ours >= 2
