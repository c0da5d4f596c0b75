"""On a real GPU: the own launch (a hit launched straight at the driver, Triton 3.3 - 3.9 with
the accelerator) keeps Triton's errors for memory the device cannot reach, treats pinned host
memory as native does, and replays in CUDA graphs. (Its outputs over the corpus, and where it
handed off, are checked by tests/test_gpu.py's corpus test.)"""

import corpus
import pytest

import tritoncompat

pytestmark = [pytest.mark.triton, pytest.mark.gpu]


def _scale_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def scale_add(x_ptr, out_ptr, n, k, alpha, FLAG: tl.constexpr, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        y = tl.load(x_ptr + offs, mask=m) * alpha + k
        if FLAG:
            y = y + 1.0
        tl.store(out_ptr + offs, y, mask=m)

    return scale_add


def test_cpu_tensor_on_a_hit_raises_tritons_error():
    """The key does not hold the device: a CPU tensor of the same dtype is a hit. The own launch
    must not launch it: Triton's launcher raises its ValueError, from the user's call."""
    import torch

    from tritoncompat.backends import _direct

    kernel = _scale_kernel()
    n = 4096
    x = torch.randn(n, device="cuda")
    out = torch.zeros(n, device="cuda")
    kernel[(32,)](x, out, n, 3, 2.0, FLAG=False, BLOCK=128)
    tritoncompat.launch(kernel, (32,), x, out, n, 3, 2.0, FLAG=False, BLOCK=128)
    torch.cuda.synchronize()
    x_cpu = x.cpu()
    out.zero_()
    with pytest.raises(ValueError) as native:
        kernel[(32,)](x_cpu, out, n, 3, 2.0, FLAG=False, BLOCK=128)
    tritoncompat.cache_clear()
    tritoncompat.launch(kernel, (32,), x, out, n, 3, 2.0, FLAG=False, BLOCK=128)  # the entry again
    torch.cuda.synchronize()
    out.zero_()
    hits = tritoncompat.cache_info().hits
    with pytest.raises(ValueError) as ours:
        tritoncompat.launch(kernel, (32,), x_cpu, out, n, 3, 2.0, FLAG=False, BLOCK=128)
    torch.cuda.synchronize()
    assert str(ours.value) == str(native.value)
    assert "cannot be accessed from Triton" in str(ours.value)
    assert torch.count_nonzero(out) == 0
    info = tritoncompat.cache_info()
    assert info.hits == hits + 1
    if corpus.own_launch_expected():
        assert info.own == 1 and info.handoffs.get(_direct.HANDOFF_ARGUMENT) == 1, info
    # the next launch with device memory is an own launch again
    tritoncompat.launch(kernel, (32,), x, out, n, 3, 2.0, FLAG=True, BLOCK=128)
    tritoncompat.launch(kernel, (32,), x, out, n, 3, 2.0, FLAG=True, BLOCK=128)
    torch.cuda.synchronize()
    assert torch.allclose(out, x * 2.0 + 4.0)


def test_pinned_host_tensor_on_a_hit_equals_native():
    """Pinned host memory: Triton's launcher passes the device pointer cuPointerGetAttribute gives
    for it; the own launch must do the same (same outcome as native, whatever it is)."""
    import torch

    kernel = _scale_kernel()
    n = 4096

    def outcome(go):
        x = (torch.arange(n, dtype=torch.float32) % 13).pin_memory()
        out = torch.zeros(n, device="cuda")
        try:
            go(x, out)
            torch.cuda.synchronize()
        except Exception as exc:  # compared, not required
            return ("raised", type(exc).__name__, str(exc))
        return ("ok", out.cpu())

    def native(x, out):
        kernel[(32,)](x, out, n, 1, 0.5, FLAG=False, BLOCK=128)

    def fast(x, out):
        tritoncompat.launch(kernel, (32,), x, out, n, 1, 0.5, FLAG=False, BLOCK=128)

    want = outcome(native)
    for _ in range(3):  # a miss, then hits
        got = outcome(fast)
        assert got[0] == want[0]
        if want[0] == "ok":
            assert torch.equal(got[1], want[1])
        else:
            assert got[1:] == want[1:]


def test_cuda_graph_of_own_launches_replays():
    import torch

    kernel = _scale_kernel()
    n = 8192 + 3
    grid = ((n + 127) // 128,)
    x = torch.randn(n, device="cuda")
    mid = torch.zeros(n, device="cuda")
    out = torch.zeros(n, device="cuda")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    own = tritoncompat.cache_info().own
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm: a miss, then hits
            tritoncompat.launch(kernel, grid, x, mid, n, 3, 2.0, FLAG=False, BLOCK=128)
            tritoncompat.launch(kernel, grid, mid, out, n, 5, 0.5, FLAG=True, BLOCK=128)
    stream.synchronize()
    graph = torch.cuda.CUDAGraph()
    hits = tritoncompat.cache_info().hits
    with torch.cuda.graph(graph, stream=stream):
        tritoncompat.launch(kernel, grid, x, mid, n, 3, 2.0, FLAG=False, BLOCK=128)
        tritoncompat.launch(kernel, grid, mid, out, n, 5, 0.5, FLAG=True, BLOCK=128)
    assert tritoncompat.cache_info().hits == hits + 2
    if corpus.own_launch_expected():
        assert tritoncompat.cache_info().own >= own + 2
    for value in (1.5, -2.0):
        x.fill_(value)
        mid.zero_()
        out.zero_()
        graph.replay()
        torch.cuda.synchronize()
        want = (value * 2.0 + 3) * 0.5 + 5 + 1.0
        assert torch.allclose(out, torch.full_like(out, want)), value
