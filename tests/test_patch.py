"""patch() / unpatch() / patched()."""

import pytest
import triton

import tritoncompat
from tritoncompat import _launch

pytestmark = [pytest.mark.triton]


def _class_attrs():
    from triton.runtime.jit import JITFunction

    return {name: JITFunction.__dict__.get(name) for name in ("run", "__getitem__")}


def test_patch_is_idempotent_and_unpatch_restores_identical_originals():
    before = _class_attrs()
    active = tritoncompat.patch()
    assert active == (_launch.backend().module is not None)
    patched = _class_attrs()
    assert tritoncompat.patch() == active
    assert _class_attrs() == patched  # a second patch() changes nothing
    if active:
        assert patched["run"] is not before["run"]
    tritoncompat.unpatch()
    tritoncompat.unpatch()
    after = _class_attrs()
    assert all(after[name] is before[name] for name in before)


def test_patched_context_restores_and_nests():
    before = _class_attrs()
    with tritoncompat.patched():
        inner = _class_attrs()
        with tritoncompat.patched():
            assert _class_attrs() == inner
        assert _class_attrs() == inner  # the inner context did not undo the outer patch
    assert all(_class_attrs()[n] is before[n] for n in before)


def test_patched_context_unpatches_on_error():
    before = _class_attrs()
    with pytest.raises(KeyError):
        with tritoncompat.patched():
            raise KeyError("boom")
    assert all(_class_attrs()[n] is before[n] for n in before)


def test_patched_kernel_keeps_its_identity(fake_cuda):
    import corpus

    kernel = corpus.build()["axpb"]
    with tritoncompat.patched():
        assert callable(kernel[(1,)])
        assert type(kernel) is triton.runtime.jit.JITFunction


def test_patched_calls_are_tritons_own_while_torch_compiles(fake_cuda, monkeypatch):
    """While torch.compiler.is_compiling() (Dynamo tracing), patched kernel[grid] / run /
    Autotuner.run call Triton's own, so Dynamo sees the normal call."""
    import torch

    import corpus

    if not hasattr(torch, "compiler") or not hasattr(torch.compiler, "is_compiling"):
        pytest.skip("torch has no torch.compiler.is_compiling")
    name, kernel, grid, args, kwargs = corpus.case("axpb options")
    tuned_case = corpus.wrapped_cases()[0]
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    with tritoncompat.patched():
        for _ in range(2):
            kernel[grid](*args, **kwargs)
            tuned_case[1][tuned_case[2]](*tuned_case[3], **tuned_case[4])
    info = tritoncompat.cache_info()
    assert info.hits == 0 and info.misses == 0, info
    monkeypatch.undo()
    with tritoncompat.patched():
        kernel[grid](*args, **kwargs)
        kernel[grid](*args, **kwargs)
    assert tritoncompat.cache_info().hits == 1
