"""Launch hooks: idle hooks pass None; an installed hook gets what Triton gives it."""

import pytest
import triton

import tritoncompat
from tritoncompat import _launch, _version

import corpus

pytestmark = [pytest.mark.triton]
V = corpus.V
needs_v3_3 = pytest.mark.skipif(_version.detect().backend != "v3_3", reason="hooks of the 3.3+ backend")


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


@needs_v3_3
def test_idle_hooks_pass_none(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert fake_cuda.calls[-1][6:9] == (None, None, None)


@needs_v3_3
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
    assert fast[7] is native[7] and fast[8] is native[8]  # the same hook objects
    assert type(fast[6]) is type(native[6]) and fast[6] is not None
    assert dict(fast[6].get()) == dict(native[6].get())  # the metadata a profiler receives
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    assert fake_cuda.calls[-1][6] is None  # removed: idle again
