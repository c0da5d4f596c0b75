"""On a real GPU (the H100 machine): outputs of launch() and patched launches equal native ones
over the corpus, and CUDA graphs captured through the fast path replay correctly."""

import pytest

import tritoncompat

pytestmark = [pytest.mark.triton, pytest.mark.gpu]


def _run_case(kernel, grid, args, kwargs, how):
    import torch

    if how == "native":
        kernel[grid](*args, **kwargs)
    elif how == "launch":
        tritoncompat.launch(kernel, grid, *args, **kwargs)
    else:
        with tritoncompat.patched():
            kernel[grid](*args, **kwargs)
    torch.cuda.synchronize()


def _clone(seed_args, seed_kwargs):
    """Same inputs for every variant: fresh copies of the seed tensors."""
    import torch

    def copy(a, s):
        if isinstance(a, torch.Tensor):
            return s.clone()
        if isinstance(a, tuple):
            return tuple(copy(x, y) for x, y in zip(a, s))
        return a

    return tuple(copy(a, a) for a in seed_args), {k: copy(v, v) for k, v in seed_kwargs.items()}


def _outputs(args, kwargs):
    import torch

    flat = []
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, torch.Tensor):
            flat.append(a.detach().cpu())
        elif isinstance(a, tuple):
            flat += [x.detach().cpu() for x in a if isinstance(x, torch.Tensor)]
    return flat


def test_corpus_outputs_equal_native():
    import torch

    import corpus

    cases = corpus.cases("cuda") + corpus.wrapped_cases("cuda")
    for name, kernel, grid, seed_args, seed_kwargs in cases:
        results = {}
        for how in ("native", "launch", "launch", "patched", "patched"):  # twice: a miss, then a hit
            args, kwargs = _clone(seed_args, seed_kwargs)
            hits = tritoncompat.cache_info().hits
            _run_case(kernel, grid, args, kwargs, how)
            results.setdefault(how, []).append((_outputs(args, kwargs), tritoncompat.cache_info().hits - hits))
        native = results["native"][0][0]
        for how in ("launch", "patched"):
            for outs, _ in results[how]:
                for got, want in zip(outs, native):
                    assert torch.equal(got, want) or (got.isnan() == want.isnan()).all(), (name, how)
        if type(kernel).__name__ == "JITFunction":
            assert results["launch"][1][1] == 1, (name, "second launch() must be a fast hit")
        # Autotuned/heuristics kernels reach the fast path only through patch(): their first
        # patched launch of a configuration is a miss.
        assert results["patched"][1][1] == 1, (name, "second patched launch must be a fast hit")
    info = tritoncompat.cache_info()
    assert info.hits > len(cases)
    # the hits were own launches (3.3-3.9 with the accelerator), none handed off per launch
    from tritoncompat.backends import _direct

    print(f"\nown launches: {info.own} compiled kernels; hand-offs: {dict(info.handoffs)}; hits {info.hits}")
    if corpus.own_launch_expected():
        assert info.own > 0, info
        assert info.handoffs.get(_direct.HANDOFF_ARGUMENT, 0) == 0, info
    else:
        assert info.own == 0, info


@pytest.mark.parametrize("side_stream", [False, True])
def test_cuda_graph_through_launch_replays(side_stream):
    import torch

    import corpus

    kernel = corpus.build()["axpb"]
    x = torch.randn(4096, device="cuda")
    out = torch.zeros(4096, device="cuda")
    grid = (32,)
    tritoncompat.launch(kernel, grid, x, out, 4096, 3, 2.0)  # compile (miss) before capture
    tritoncompat.launch(kernel, grid, out, out, 4096, 0, 0.5)
    torch.cuda.synchronize()
    stream = torch.cuda.Stream() if side_stream else torch.cuda.current_stream()
    graph = torch.cuda.CUDAGraph()
    hits = tritoncompat.cache_info().hits
    if side_stream:
        stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph, stream=stream if side_stream else None):
            tritoncompat.launch(kernel, grid, x, out, 4096, 3, 2.0)
            with tritoncompat.patched():
                kernel[grid](out, out, 4096, 0, 0.5)
    assert tritoncompat.cache_info().hits == hits + 2
    for value in (1.0, -2.0):
        x.fill_(value)
        out.zero_()
        graph.replay()
        torch.cuda.synchronize()
        assert torch.allclose(out, torch.full_like(out, (value * 2.0 + 3) * 0.5))


def test_self_check_on_gpu():
    from tritoncompat.__main__ import self_check

    assert self_check() == []


@pytest.mark.parametrize("form", ["torch stream", "raw handle", "device index"])
def test_launch_on_an_explicit_stream(form):
    """launch(stream=...) enqueues on that stream (ordered after work already on it), leaves the
    current stream as it was, and is a fast hit."""
    import torch

    import corpus

    kernel = corpus.build()["axpb"]
    x = torch.randn(1 << 20, device="cuda")
    out = torch.zeros_like(x)
    grid = (1 << 20) // 128,
    tritoncompat.launch(kernel, grid, x, out, x.numel(), 5, 1.0)  # compile (same key as below)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    current = torch.cuda.current_stream()
    keyword = {"torch stream": {"stream": side}, "raw handle": {"stream": side.cuda_stream},
               "device index": {"stream": side, "device": torch.cuda.current_device()}}[form]
    hits = tritoncompat.cache_info().hits
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)  # the side stream is busy: a launch there waits for it
        x.fill_(2.0)
    tritoncompat.launch(kernel, grid, x, out, x.numel(), 3, 0.5, **keyword)
    assert torch.cuda.current_stream() == current
    side.synchronize()
    assert tritoncompat.cache_info().hits == hits + 1
    assert torch.equal(out, torch.full_like(out, 2.0 * 0.5 + 3))


def test_launch_stream_keyword_into_a_cuda_graph():
    import torch

    import corpus

    kernel = corpus.build()["axpb"]
    x = torch.randn(4096, device="cuda")
    out = torch.zeros_like(x)
    tritoncompat.launch(kernel, (32,), x, out, 4096, 3, 2.0)
    torch.cuda.synchronize()
    capture = torch.cuda.Stream()
    capture.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=capture):
        tritoncompat.launch(kernel, (32,), x, out, 4096, 3, 2.0, stream=capture)
    x.fill_(4.0)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, torch.full_like(out, 4.0 * 2.0 + 3))


def test_bad_stream_on_gpu_launches_nothing():
    import torch

    import corpus

    kernel = corpus.build()["axpb"]
    x = torch.randn(4096, device="cuda")
    out = torch.zeros_like(x)
    with pytest.raises(TypeError, match="tritoncompat.launch"):
        tritoncompat.launch(kernel, (32,), x, out, 4096, 3, 2.0, stream=torch.cuda.Event())
    torch.cuda.synchronize()
    assert torch.count_nonzero(out) == 0


def _scale_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def scale(x_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * alpha, mask=m)

    return scale


def test_torch_compile_with_patch():
    """A torch.compile'd function calling a Triton kernel, with patch() on: Dynamo traces
    Triton's own call (the patched methods go native while torch.compiler.is_compiling())."""
    import torch
    import triton

    _needs_triton((3, 0))  # torch's Inductor needs Triton 3
    kernel = _scale_kernel()

    def f(x):
        out = torch.empty_like(x)
        kernel[(triton.cdiv(x.numel(), 128),)](x, out, x.numel(), 2.5, BLOCK=128)
        return out * 2

    x = torch.randn(4096, device="cuda")
    expected = f(x)
    torch._dynamo.reset()
    with tritoncompat.patched():
        compiled = torch.compile(f)
        for _ in range(3):
            assert torch.allclose(compiled(x), expected)
        assert torch.allclose(f(x), expected)  # eager, patched: the fast path (a miss first)
        hits = tritoncompat.cache_info().hits
        assert torch.allclose(f(x), expected)
        assert tritoncompat.cache_info().hits == hits + 1
    torch._dynamo.reset()


@pytest.mark.parametrize("how", ["launch", "patched"])
def test_autotuned_kernel_memo_and_cuda_graph(how):
    """An autotuned kernel: memo hits equal native launches, and a CUDA graph captured after
    tuning replays correctly."""
    import torch

    import corpus

    _, kernel, grid, seed_args, seed_kwargs = corpus.wrapped_cases("cuda")[0]
    x, out = seed_args[0], torch.zeros_like(seed_args[0])
    kernel[grid](x, out, 1000)  # tuned natively
    want = out.clone()

    def call():
        if how == "launch":
            tritoncompat.launch(kernel, grid, x, out, 1000)
        else:
            with tritoncompat.patched():
                kernel[grid](x, out, 1000)

    for _ in range(3):
        out.zero_()
        call()
        torch.cuda.synchronize()
        assert torch.equal(out, want)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        call()
    x.fill_(5.0)
    out.zero_()
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(out[:1000], torch.full((1000,), 6.0, device="cuda"))


def _needs_triton(major_minor):
    import triton

    found = tuple(int(p) for p in triton.__version__.split(".")[:2])
    if found < major_minor:
        pytest.skip(f"needs Triton {'.'.join(map(str, major_minor))}+ (found {triton.__version__})")


def test_tensor_descriptor_arguments_go_native_counted():
    """Host-side TensorDescriptor arguments (3.4+): through Triton's own path, counted, with the
    native results."""
    _needs_triton((3, 4))
    import torch
    import triton
    import triton.language as tl
    from triton.tools.tensor_descriptor import TensorDescriptor

    @triton.jit
    def desc_scale(in_desc, out_desc, BLOCK: tl.constexpr):
        offset = tl.program_id(0) * BLOCK
        out_desc.store([offset], in_desc.load([offset]) * 2.0)

    x = torch.randn(4096, device="cuda")
    outs = [torch.zeros_like(x) for _ in range(3)]
    descs = [(TensorDescriptor.from_tensor(x, [128]), TensorDescriptor.from_tensor(o, [128])) for o in outs]
    desc_scale[(32,)](*descs[0], BLOCK=128)
    tritoncompat.launch(desc_scale, (32,), *descs[1], BLOCK=128)
    with tritoncompat.patched():
        desc_scale[(32,)](*descs[2], BLOCK=128)
    torch.cuda.synchronize()
    assert torch.equal(outs[0], x * 2) and torch.equal(outs[1], outs[0]) and torch.equal(outs[2], outs[0])
    assert sum(tritoncompat.cache_info().fallbacks.values()) == 2, tritoncompat.cache_info()


def test_kernel_with_global_scratch_on_the_fast_path():
    """A device-side tensor descriptor needs global scratch from triton.set_allocator (3.4+):
    the compiled kernel's own launcher allocates it, on the fast path too."""
    _needs_triton((3, 4))
    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def device_desc(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        desc = tl.make_tensor_descriptor(x_ptr, shape=[n], strides=[1], block_shape=[BLOCK])
        offset = tl.program_id(0) * BLOCK
        tl.store(out_ptr + offset + tl.arange(0, BLOCK), desc.load([offset]) * 3.0)

    from triton.runtime import _allocation

    previous = _allocation._allocator.get()
    triton.set_allocator(lambda size, align, stream: torch.empty(size, dtype=torch.int8, device="cuda"))
    try:
        x = torch.randn(4096, device="cuda")
        want = torch.zeros_like(x)
        device_desc[(32,)](x, want, 4096, BLOCK=128)
        for _ in range(3):
            out = torch.zeros_like(x)
            hits = tritoncompat.cache_info().hits
            tritoncompat.launch(device_desc, (32,), x, out, 4096, BLOCK=128)
            torch.cuda.synchronize()
            assert torch.equal(out, want)
        assert tritoncompat.cache_info().hits == hits + 1  # the last ones were fast hits
    finally:
        triton.set_allocator(previous)


def _proton_profile(tmp_path, name, launch):
    """Run ``launch`` 5 times under Triton's profiler (proton, launch hook) and return its tree
    of kernel names -> metrics, without timings."""
    import json

    import torch
    import triton.profiler as proton

    path = str(tmp_path / name)
    proton.start(path, hook="triton")
    for _ in range(5):
        launch()
    torch.cuda.synchronize()
    proton.finalize()
    with open(path + ".hatchet") as f:
        tree = json.load(f)

    def walk(node, out):
        metrics = {k: v for k, v in node.get("metrics", {}).items() if "time" not in k}
        out[node["frame"]["name"]] = metrics
        for child in node.get("children", []):
            walk(child, out)
        return out

    return walk(tree[0], {})


def test_proton_records_the_same_with_the_fast_path(tmp_path):
    """With Triton's profiler active (its launch hook installed), the fast path builds the launch
    metadata and passes the hooks as Triton does: proton records the same kernels and metrics."""
    _needs_triton((3, 5))
    import torch
    import triton
    import triton.language as tl

    try:
        import triton.profiler  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"no triton.profiler: {exc}")

    def metadata(grid, kernel, args):
        return {"name": f"scale_n{args['n']}", "flops": 2 * args["n"], "bytes": 8 * args["n"]}

    @triton.jit(launch_metadata=metadata)
    def scale(x_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * alpha, mask=m)

    x = torch.randn(4096, device="cuda")
    out = torch.empty_like(x)
    scale[(32,)](x, out, 4096, 2.0, BLOCK=128)
    tritoncompat.launch(scale, (32,), x, out, 4096, 2.0, BLOCK=128)
    native = _proton_profile(tmp_path, "native", lambda: scale[(32,)](x, out, 4096, 2.0, BLOCK=128))
    hits = tritoncompat.cache_info().hits
    fast = _proton_profile(tmp_path, "fast", lambda: tritoncompat.launch(scale, (32,), x, out, 4096, 2.0, BLOCK=128))
    assert tritoncompat.cache_info().hits == hits + 5
    assert native["scale_n4096"]["count"] == 5 and native["scale_n4096"]["flops"] == 5 * 2 * 4096, native
    assert fast == native


def test_threads_on_the_gpu():
    """8 threads, 8 specializations of one kernel at once (launch() and patched): every output
    equals its native launch's; the counters add up."""
    import threading

    import torch
    import triton

    kernel = _scale_kernel()
    n = 4096
    dtypes = [torch.float32, torch.float16] * 4
    alphas = [2.0, 3.0, 0.5, 1.5, 4.0, 2.5, 1.0, 0.25]
    blocks = [64, 64, 128, 128, 256, 256, 512, 512]
    xs = [torch.randn(n, device="cuda").to(d) for d in dtypes]
    wants = []
    for x, a, b in zip(xs, alphas, blocks):
        want = torch.empty_like(x)
        kernel[(triton.cdiv(n, b),)](x, want, n, a, BLOCK=b)
        wants.append(want)
    torch.cuda.synchronize()
    errors, outs = [], [torch.empty_like(x) for x in xs]
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for r in range(20):
                outs[i].zero_()
                if r % 2:
                    tritoncompat.launch(kernel, (triton.cdiv(n, blocks[i]),), xs[i], outs[i], n, alphas[i], BLOCK=blocks[i])
                else:
                    kernel[(triton.cdiv(n, blocks[i]),)](xs[i], outs[i], n, alphas[i], BLOCK=blocks[i])
                torch.cuda.current_stream().synchronize()
                assert torch.equal(outs[i], wants[i]), i
        except BaseException as exc:
            errors.append((i, exc))

    with tritoncompat.patched():
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    info = tritoncompat.cache_info()
    assert info.hits + info.misses == 8 * 20 and info.entries == 8, info


def test_fast_path_holds_no_gpu_tensors():
    """Tensors launched through the fast path are freed when the caller drops them."""
    import gc
    import weakref

    import torch

    kernel = _scale_kernel()
    refs = []
    for _ in range(3):
        x = torch.randn(4096, device="cuda")
        out = torch.empty_like(x)
        tritoncompat.launch(kernel, (32,), x, out, 4096, 2.0, BLOCK=128)
        refs += [weakref.ref(x), weakref.ref(out)]
        del x, out
    torch.cuda.synchronize()
    gc.collect()
    assert all(r() is None for r in refs)
    assert tritoncompat.cache_info().hits == 2
