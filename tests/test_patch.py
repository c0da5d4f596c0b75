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
