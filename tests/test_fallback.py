"""Releases without a backend, and the environment switches: launches go through Triton's own
path, with one warning naming the release, the supported ones and the knobs."""

import warnings

import pytest
import triton

import tritoncompat
from tritoncompat import _launch, _version

pytestmark = [pytest.mark.triton]


def test_selected_backend_matches_the_table():
    detected = _version.detect()
    assert detected.version == triton.__version__
    sel = _launch.backend()
    if detected.backend in _version.BACKENDS:
        assert sel.module is not None and sel.module.NAME == detected.backend
    else:
        assert sel.module is None and triton.__version__ in sel.reason


def _launch_once(fake_cuda):
    import corpus

    name, kernel, grid, args, kwargs = corpus.cases()[0]
    kernel[grid](*args, **kwargs)
    native = fake_cuda.calls[-1]
    result = tritoncompat.launch(kernel, grid, *args, **kwargs)
    tritoncompat.launch(kernel, grid, *args, **kwargs)
    return native, fake_cuda.calls[-1], result


def test_unsupported_release_goes_native_with_one_warning(fake_cuda, monkeypatch):
    monkeypatch.setattr(_version, "BACKENDS", ())  # as if this release had no backend
    monkeypatch.delenv("TRITONCOMPAT_BACKEND", raising=False)  # the canary's: not a backend here either
    _launch.reload()
    with pytest.warns(tritoncompat.TritonCompatWarning, match=triton.__version__) as record:
        native, last, result = _launch_once(fake_cuda)
    assert len([w for w in record if issubclass(w.category, tritoncompat.TritonCompatWarning)]) == 1
    message = str(record[0].message)
    assert "TRITONCOMPAT_BACKEND" in message and "TRITONCOMPAT_STRICT" in message
    assert last[:3] == native[:3] and result is not None
    info = tritoncompat.cache_info()
    assert info.hits == 0 and sum(info.fallbacks.values()) == 2
    assert tritoncompat.patch() is False


def test_strict_turns_the_fallback_into_an_error(fake_cuda, monkeypatch):
    monkeypatch.setattr(_version, "BACKENDS", ())
    monkeypatch.setenv("TRITONCOMPAT_STRICT", "1")
    _launch.reload()
    import corpus

    name, kernel, grid, args, kwargs = corpus.cases()[0]
    with pytest.raises(tritoncompat.TritonCompatError, match="TRITONCOMPAT_STRICT"):
        tritoncompat.launch(kernel, grid, *args, **kwargs)


def test_disable_sends_everything_native_silently(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_DISABLE", "1")
    _launch.reload()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        native, last, _ = _launch_once(fake_cuda)
    assert last[:3] == native[:3]
    info = tritoncompat.cache_info()
    assert info.hits == 0 and info.fallbacks == {"disabled by TRITONCOMPAT_DISABLE": 2}


def test_forced_unknown_backend_is_reported(fake_cuda, monkeypatch):
    monkeypatch.setenv("TRITONCOMPAT_BACKEND", "v9_9")
    _launch.reload()
    with pytest.warns(tritoncompat.TritonCompatWarning, match="v9_9"):
        _launch_once(fake_cuda)
