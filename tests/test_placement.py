"""launch(..., stream=..., device=...): the same contract on every release (2.1-2.2 took them
natively, 2.3+ reject them), fast, never cached; patched calls keep each release's own behaviour.
On CPU the fake driver stands in for CUDA: 2 devices, a current stream per device."""

import types

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
from tritoncompat import _launch, _placement, _version

import corpus

pytestmark = [pytest.mark.triton]

V = corpus.V
FAST = _version.detect().backend in _version.BACKENDS
needs_backend = pytest.mark.skipif(not FAST, reason="no backend for this triton release")
NATIVE_STREAM = V < (2, 3)  # 2.1-2.2: JITFunction.run takes device= and stream=


def slots():
    return _launch.backend().module.LAUNCHER_LAYOUT


def axpb_args():
    x, out = torch.randn(1024), torch.empty(1024)
    return (x, out, 1000, 3, 2.5)


def launched(fake):
    call = fake.calls[-1]
    return call[slots()["stream_slot"]], call[slots()["function_slot"]]


def device_of_function(fake, function):
    return next(dev for _, f, dev in fake.loaded if f == function)


def fresh_axpb():
    """A kernel of its own (corpus kernels are shared between tests and compiled already)."""

    @triton.jit
    def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr = 128):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * alpha + k, mask=m)

    return axpb


class TorchLikeStream:
    """What launch() reads from a torch.cuda.Stream: cuda_stream and device."""

    def __init__(self, handle, index):
        self.cuda_stream = handle
        self.device = types.SimpleNamespace(type="cuda", index=index)


class ProtocolStream:
    def __init__(self, handle):
        self.handle = handle

    def __cuda_stream__(self):
        return (0, self.handle)


@needs_backend
@pytest.mark.parametrize("stream", ["int", "torch-like", "protocol"])
def test_stream_keyword_on_the_fast_path(fake_cuda, stream):
    kernel = corpus.build()["axpb"]
    args = axpb_args()
    value = {"int": 0xABC, "torch-like": TorchLikeStream(0xABC, 0), "protocol": ProtocolStream(0xABC)}[stream]
    tritoncompat.launch(kernel, (8,), *args)  # miss: compiled
    default = fake_cuda.stream
    hits = tritoncompat.cache_info().hits
    tritoncompat.launch(kernel, (8,), *args, stream=value)
    assert tritoncompat.cache_info().hits == hits + 1  # the fast path, same cache entry
    assert launched(fake_cuda)[0] == 0xABC
    assert fake_cuda.stream == default  # current for that launch only
    tritoncompat.launch(kernel, (8,), *args)
    assert launched(fake_cuda)[0] == default  # never a cached stream
    assert not tritoncompat.cache_info().fallbacks


@needs_backend
@pytest.mark.parametrize("device", [1, "cuda:1", "stream"])
def test_device_keyword_picks_that_devices_kernel(fake_cuda, device):
    kernel = fresh_axpb()
    args = axpb_args()
    tritoncompat.launch(kernel, (8,), *args)
    _, function0 = launched(fake_cuda)
    kwargs = {"stream": TorchLikeStream(0xD1, 1)} if device == "stream" else {"device": device}
    for _ in range(2):  # a miss on device 1, then a hit
        tritoncompat.launch(kernel, (8,), *args, **kwargs)
        stream, function1 = launched(fake_cuda)
        assert device_of_function(fake_cuda, function1) == 1 and function1 != function0
        assert stream == (0xD1 if device == "stream" else fake_cuda.streams.get(1, 0x5EB))
        assert fake_cuda.device == 0  # restored
    info = tritoncompat.cache_info()
    assert info.entries == 2 and info.hits == 1, info
    tritoncompat.launch(kernel, (8,), *args)
    assert launched(fake_cuda)[1] == function0


@needs_backend
@pytest.mark.skipif(not NATIVE_STREAM, reason="2.3+ JITFunction.run rejects device=/stream=")
def test_launch_stream_and_device_equal_native_ones_on_2x(fake_cuda):
    kernel = corpus.build()["axpb"]
    args = axpb_args()
    kernel[(8,)](*args, stream=0x77, device=1)
    native = fake_cuda.calls[-1]
    fake_cuda.set_current_device(0)  # 2.1-2.2 leave the device switched; launch() does not
    for _ in range(2):
        tritoncompat.launch(kernel, (8,), *args, stream=0x77, device=1)
        assert fake_cuda.calls[-1][slots()["stream_slot"]] == native[slots()["stream_slot"]]
        assert fake_cuda.calls[-1][slots()["function_slot"]] == native[slots()["function_slot"]]
        assert fake_cuda.device == 0
    assert tritoncompat.cache_info().hits == 1


@needs_backend
def test_patched_calls_keep_the_releases_own_stream_keyword(fake_cuda):
    kernel = corpus.build()["axpb"]
    args = axpb_args()

    def outcome():
        try:
            kernel[(8,)](*args, stream=0x99)
        except Exception as exc:  # 2.3+: Triton's own error
            return type(exc)
        return launched(fake_cuda)[0]

    native = outcome()
    with tritoncompat.patched():
        assert outcome() == native
        assert outcome() == native
    if NATIVE_STREAM:
        assert native == 0x99
    else:
        assert isinstance(native, type) and issubclass(native, Exception)


@needs_backend
@pytest.mark.skipif(V < (2, 2), reason="2.1 cannot decorate a kernel with a parameter named stream")
@pytest.mark.parametrize("form", ["keyword", "positional"])
def test_kernel_parameter_named_stream_is_the_kernels(fake_cuda, form):
    """launch() leaves a keyword that names a kernel parameter to the kernel: the outcome is
    kernel[grid]'s (2.2 pops it as a launch option, 2.3+ assert on it as a keyword). Such kernels
    go through Triton's own path, counted."""

    @triton.jit
    def with_stream(out_ptr, stream, device, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(out_ptr + offs, tl.zeros([BLOCK], tl.float32) + stream + device)

    out = torch.empty(64)
    args, kwargs = ((out,), dict(stream=5, device=0, BLOCK=64)) if form == "keyword" else ((out, 5, 0), dict(BLOCK=64))

    def outcome(call):
        calls = len(fake_cuda.calls)
        try:
            call()
        except Exception as exc:
            return type(exc)
        assert len(fake_cuda.calls) == calls + 1
        call = fake_cuda.calls[-1]
        return call[:slots()["function_slot"]] + call[slots()["args_slot"]:]

    native = outcome(lambda: with_stream[(1,)](*args, **kwargs))
    for _ in range(2):
        assert outcome(lambda: tritoncompat.launch(with_stream, (1,), *args, **kwargs)) == native
        with tritoncompat.patched():
            assert outcome(lambda: with_stream[(1,)](*args, **kwargs)) == native
    assert tritoncompat.cache_info().fallbacks["parameter named like a launch option"] == 4


@needs_backend
def test_autotuned_kernel_launches_on_the_given_stream(fake_cuda):
    name, kernel, grid, args, kwargs = corpus.wrapped_cases()[0]
    kernel[grid](*args, **kwargs)  # tuned
    with tritoncompat.patched():
        for _ in range(2):
            tritoncompat.launch(kernel, grid, *args, stream=0x5151, **kwargs)
            assert launched(fake_cuda)[0] == 0x5151
    assert fake_cuda.stream != 0x5151


def _bad_placements():
    return {
        "stream str": ({"stream": "s0"}, TypeError),
        "stream float": ({"stream": 1.5}, TypeError),
        "stream negative": ({"stream": -1}, ValueError),
        "stream beyond 64 bits": ({"stream": 2**64 + 5}, ValueError),  # a 64-bit handle: never masked to 5
        "stream protocol beyond 64 bits": ({"stream": ProtocolStream(2**64)}, ValueError),
        "stream bool": ({"stream": True}, TypeError),
        "device float": ({"device": 1.0}, TypeError),
        "device cpu": ({"device": "cpu"}, ValueError),
        "device negative": ({"device": -2}, ValueError),
        "device and stream disagree": ({"device": 0, "stream": TorchLikeStream(5, 1)}, ValueError),
    }


@needs_backend
@pytest.mark.parametrize("bad", sorted(_bad_placements()))
def test_bad_stream_or_device_raises_clearly_and_launches_nothing(fake_cuda, bad):
    kernel = corpus.build()["axpb"]
    args = axpb_args()
    placement, error = _bad_placements()[bad]
    calls = len(fake_cuda.calls)
    with pytest.raises(error, match="tritoncompat.launch"):
        tritoncompat.launch(kernel, (8,), *args, **placement)
    assert len(fake_cuda.calls) == calls
    assert tritoncompat.cache_info().entries == 0
    assert fake_cuda.device == 0
    tritoncompat.launch(kernel, (8,), *args, stream=0x42)  # still usable
    assert launched(fake_cuda)[0] == 0x42


@needs_backend
def test_user_error_under_a_stream_restores_device_and_stream(fake_cuda):
    kernel = corpus.build()["axpb"]
    x, out = torch.randn(1024), torch.empty(1024)
    stream = fake_cuda.stream
    with pytest.raises(TypeError):
        tritoncompat.launch(kernel, (8,), x, out, stream=0x31, device=1)  # too few arguments
    assert (fake_cuda.device, fake_cuda.stream) == (0, stream)


def test_parse_helpers_without_triton_state():
    assert _placement.parse_device(None) is None
    assert _placement.parse_device(3) == 3
    assert _placement.parse_device("cuda") is None
    assert _placement.parse_device("cuda:2") == 2
    assert _placement.parse_device(torch.device("cuda", 1)) == 1
    assert _placement.parse_stream(None) == (None, None, None)
    assert _placement.parse_stream(0) == (0, None, None)
    assert _placement.parse_stream(ProtocolStream(9))[0] == 9
    assert _placement.parse_stream(TorchLikeStream(9, 1))[:2] == (9, 1)


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_alternating_current_device_picks_each_devices_kernel(fake_cuda, via):
    """torch.cuda.device(i)-style switching between two (fake) devices: per-device entries,
    each launch on the current device's compiled kernel and stream."""
    kernel = fresh_axpb()
    args = axpb_args()
    seen = {}
    for i in range(6):
        device = i % 2
        fake_cuda.set_current_device(device)
        kernel[(8,)](*args)
        native = launched(fake_cuda)
        if via == "launch":
            tritoncompat.launch(kernel, (8,), *args)
        else:
            with tritoncompat.patched():
                kernel[(8,)](*args)
        assert launched(fake_cuda) == native
        stream, function = native
        assert stream == fake_cuda.get_current_stream(device)
        seen.setdefault(device, set()).add(function)
    fake_cuda.set_current_device(0)
    assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1]
    info = tritoncompat.cache_info()
    assert info.entries == 2 and info.hits == 4, info
