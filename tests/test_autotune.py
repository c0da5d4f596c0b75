"""The autotuner memo (tritoncompat._autotune): on a tuning-cache hit, launch() and patched
launches of an @triton.autotune kernel skip Autotuner.run and launch the config Triton's tuning
cache holds for the call's tuning key; everything else goes through Triton's own Autotuner.run.
CPU, fake driver (its benchmark ties every config: Triton keeps the first)."""

import pytest
import torch
import triton
import triton.language as tl
from hypothesis import given
from hypothesis import strategies as st

import tritoncompat
from tritoncompat import _autotune, _launch, _version

import corpus

pytestmark = [pytest.mark.triton]

V = corpus.V
FAST = _version.detect().backend in _version.BACKENDS
needs_backend = pytest.mark.skipif(not FAST, reason="no backend for this triton release")
CONFIGS = [triton.Config({"BLOCK": 64}, num_warps=2), triton.Config({"BLOCK": 128}, num_warps=4)]


def make_tuned(configs=None, key=("n",), heuristics=False):
    def body(x_ptr, out_ptr, n, scale, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * scale, mask=m)

    kernel = triton.jit(body)
    if heuristics:
        def even_body(x_ptr, out_ptr, n, scale, BLOCK: tl.constexpr, EVEN: tl.constexpr):
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            m = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * scale + EVEN, mask=m)

        kernel = triton.heuristics({"EVEN": lambda a: a["n"] % a["BLOCK"] == 0})(triton.jit(even_body))
    return triton.autotune(configs=configs or CONFIGS, key=list(key))(kernel)


def grid(meta):
    return (triton.cdiv(1000, meta["BLOCK"]),)


def tensors(dtype=torch.float32):
    return torch.randn(1024).to(dtype), torch.empty(1024, dtype=dtype)


def count_triton_runs(monkeypatch, tuner):
    """Calls of Triton's own Autotuner.run for this tuner (the memo's slow path)."""
    memo = _autotune.memo_for(tuner, _autotune.original_run(type(tuner)), _launch.fast_launch)
    assert memo is not None
    calls = []
    original = memo.original_run

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(memo, "original_run", counting)
    return calls


def slot(name):
    return _launch.backend().module.LAUNCHER_LAYOUT[name]


def launched(fake):
    call = fake.calls[-1]
    return call[slot("function_slot")], call[slot("args_slot"):]


def via_call(via, kernel, *args, **kwargs):
    if via == "launch":
        return tritoncompat.launch(kernel, grid, *args, **kwargs)
    with tritoncompat.patched():
        return kernel[grid](*args, **kwargs)


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
@pytest.mark.parametrize("heuristics", [False, True])
def test_memo_hit_launches_what_triton_launches(fake_cuda, monkeypatch, via, heuristics):
    tuner = make_tuned(heuristics=heuristics)
    x, out = tensors()
    tuner[grid](x, out, 1000, 2.0)  # tuned by Triton
    native = launched(fake_cuda)
    runs = count_triton_runs(monkeypatch, tuner)
    via_call(via, tuner, x, out, 1000, 2.0)  # memo miss: Triton's own run, stored
    assert len(runs) == 1 and launched(fake_cuda) == native
    for i in range(3):
        hits = tritoncompat.cache_info().hits
        via_call(via, tuner, x, out, 1000, 2.0)
        assert len(runs) == 1, "a memo hit must not run Autotuner.run"
        assert launched(fake_cuda) == native
        if i:  # the final launch is a fast hit (outside patch() the first one compiled natively)
            assert tritoncompat.cache_info().hits == hits + 1
        assert tuner.best_config is tuner.cache[next(iter(tuner.cache))] and tuner.nargs is None
    assert not tritoncompat.cache_info().fallbacks


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_new_tuning_key_and_changed_tuning_cache_go_through_triton(fake_cuda, monkeypatch, via):
    tuner = make_tuned()
    x, out = tensors()
    runs = count_triton_runs(monkeypatch, tuner)
    via_call(via, tuner, x, out, 1000, 2.0)
    via_call(via, tuner, x, out, 1000, 3.0)  # scale is not in the key: a memo hit
    assert len(runs) == 1
    via_call(via, tuner, x, out, 999, 2.0)  # n is: Triton tunes it
    assert len(runs) == 2 and len(tuner.cache) == 2
    # The user (or a re-tune) maps the first key to the other config: the memo sees it.
    first_key = next(iter(tuner.cache))
    tuner.cache[first_key] = CONFIGS[1]
    via_call(via, tuner, x, out, 1000, 2.0)
    assert len(runs) == 3 and tuner.best_config is CONFIGS[1]
    tuner[grid](x, out, 1000, 2.0)
    native = launched(fake_cuda)
    via_call(via, tuner, x, out, 1000, 2.0)
    assert len(runs) == 3 and launched(fake_cuda) == native  # BLOCK=128 / 4 warps now
    tuner.cache.clear()
    via_call(via, tuner, x, out, 1000, 2.0)  # re-tuned by Triton
    assert len(runs) == 4 and len(tuner.cache) == 1


@needs_backend
@pytest.mark.skipif(V < (2, 2), reason="2.1 keys tuning on the key values only")
def test_dtype_is_part_of_the_tuning_key(fake_cuda, monkeypatch):
    tuner = make_tuned()
    runs = count_triton_runs(monkeypatch, tuner)
    for dtype in (torch.float32, torch.float16, torch.float32, torch.float16):
        x, out = tensors(dtype)
        tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)
        tuner[grid](x, out, 1000, 2.0)
        native = launched(fake_cuda)
        tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)
        assert launched(fake_cuda) == native
    assert len(runs) == 2 and len(tuner.cache) == 2


@needs_backend
def test_config_pre_hook_always_goes_through_triton(fake_cuda, monkeypatch):
    seen = []
    configs = [triton.Config({"BLOCK": 64}, num_warps=2, pre_hook=lambda nargs: seen.append(nargs["n"])),
               triton.Config({"BLOCK": 128}, num_warps=4, pre_hook=lambda nargs: seen.append(nargs["n"]))]
    tuner = make_tuned(configs)
    x, out = tensors()
    tuner[grid](x, out, 1000, 2.0)
    runs = count_triton_runs(monkeypatch, tuner)
    seen.clear()
    for _ in range(3):
        tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)
    assert len(runs) == 3 and seen == [1000, 1000, 1000]


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_keyword_arguments_and_layouts(fake_cuda, monkeypatch, via):
    tuner = make_tuned()
    x, out = tensors()
    runs = count_triton_runs(monkeypatch, tuner)
    calls = [((x, out, 1000, 2.0), {}), ((x, out), dict(n=1000, scale=2.0)), ((x,), dict(scale=2.0, n=1000, out_ptr=out))]
    for args, kwargs in calls * 2:
        tuner[grid](*args, **kwargs)
        native = launched(fake_cuda)
        via_call(via, tuner, *args, **kwargs)
        assert launched(fake_cuda) == native
    assert len(runs) == 3  # one miss per layout


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_conflicting_keyword_raises_what_triton_raises(fake_cuda, via):
    tuner = make_tuned()
    x, out = tensors()
    tuner[grid](x, out, 1000, 2.0)
    with pytest.raises(Exception) as native:
        tuner[grid](x, out, 1000, 2.0, BLOCK=32)  # BLOCK comes from the config
    with pytest.raises(type(native.value)):
        via_call(via, tuner, x, out, 1000, 2.0, BLOCK=32)
    via_call(via, tuner, x, out, 1000, 2.0)  # still usable


@needs_backend
def test_unsupported_argument_types_go_through_triton(fake_cuda, monkeypatch):
    tuner = make_tuned()
    x, out = tensors()
    runs = count_triton_runs(monkeypatch, tuner)
    weight = torch.nn.Parameter(torch.randn(1024), requires_grad=False)  # a Tensor subclass
    for _ in range(2):
        tritoncompat.launch(tuner, grid, weight, out, 1000, 2.0)
    assert len(runs) == 2


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
def test_config_with_an_unknown_option_raises_what_triton_raises(fake_cuda, via):
    configs = [triton.Config({"BLOCK": 64, "BOGUS": 1}, num_warps=2), triton.Config({"BLOCK": 128, "BOGUS": 1}, num_warps=4)]
    x, out = tensors()
    native_tuner = make_tuned(configs)
    with pytest.raises(Exception) as native:
        native_tuner[grid](x, out, 1000, 2.0)
    tuner = make_tuned(configs)
    for _ in range(2):  # nothing memoised: the same error every time
        with pytest.raises(type(native.value)):
            via_call(via, tuner, x, out, 1000, 2.0)
    assert tritoncompat.cache_info().entries == 0


@needs_backend
def test_grid_callable_that_raises_propagates_and_the_kernel_stays_usable(fake_cuda):
    tuner = make_tuned()
    x, out = tensors()
    tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)
    tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)

    def bad_grid(meta):
        raise ZeroDivisionError("grid")

    with pytest.raises(ZeroDivisionError, match="grid"):
        tuner[bad_grid](x, out, 1000, 2.0)
    native_nargs = None if tuner.nargs is None else sorted(tuner.nargs)  # Triton leaves it set
    for _ in range(2):
        tuner.nargs = None
        with pytest.raises(ZeroDivisionError, match="grid"):
            tritoncompat.launch(tuner, bad_grid, x, out, 1000, 2.0)
        assert (None if tuner.nargs is None else sorted(tuner.nargs)) == native_nargs
    tuner[grid](x, out, 1000, 2.0)
    native = launched(fake_cuda)
    tritoncompat.launch(tuner, grid, x, out, 1000, 2.0)
    assert launched(fake_cuda) == native


# Over random call sets, a memoised launch reaches the compiled kernel Triton's own autotuned
# launch reaches, and the memo never serves a config Triton's tuning cache does not hold.
@needs_backend
@given(calls=st.lists(st.tuples(st.sampled_from([1000, 999, 1024, 1, 16]), st.sampled_from([2.0, 3, True]),
                                st.sampled_from([torch.float32, torch.float16]), st.sampled_from(["pos", "kw"])),
                      min_size=1, max_size=8),
       retune=st.booleans())
def test_property_memo_launches_what_triton_launches(fake_cuda, calls, retune):
    tuner = make_tuned()
    for n, scale, dtype, form in calls:
        x, out = tensors(dtype)
        args, kwargs = ((x, out, n, scale), {}) if form == "pos" else ((x, out), {"scale": scale, "n": n})
        tuner[grid](*args, **kwargs)
        native = launched(fake_cuda)
        if retune and tuner.cache:  # the tuning cache changes under the memo
            key = next(iter(tuner.cache))
            tuner.cache[key] = CONFIGS[1] if tuner.cache[key] is CONFIGS[0] else CONFIGS[0]
            tuner[grid](*args, **kwargs)
            native = launched(fake_cuda)
        for _ in range(2):
            tritoncompat.launch(tuner, grid, *args, **kwargs)
            assert launched(fake_cuda) == native
            assert tuner.best_config in tuner.cache.values()


@needs_backend
def test_miss_only_features_behave_as_natively(fake_cuda, monkeypatch, capsys):
    """reset_to_zero, prune_configs_by and TRITON_PRINT_AUTOTUNING act when Triton tunes (a
    tuning-cache miss) and never on a hit: the same sequence of launches does the same through
    the memo as natively."""
    monkeypatch.setenv("TRITON_PRINT_AUTOTUNING", "1")

    def make(pruned):
        def prune(configs, named_args, **kwargs):
            pruned.append(named_args["n"])
            return configs

        prune_by = {"early_config_prune": prune, "perf_model": None, "top_k": None}  # 2.1 reads all three
        return triton.autotune(configs=CONFIGS, key=["n"], reset_to_zero=["out_ptr"], prune_configs_by=prune_by)(
            make_tuned().fn)

    def sequence(launch):
        pruned = []
        tuner = make(pruned)
        x = torch.randn(1024)
        states = []
        for n in (1000, 1000, 999, 1000, 999):
            out = torch.full((1024,), 7.0)
            launch(tuner, x, out, n)
            states.append(float(out.sum()))  # 0 where the reset zeroed it (the fake launch writes nothing)
        printed = capsys.readouterr().out.count("Triton autotuning for function")
        return states, pruned, printed

    native = sequence(lambda tuner, *args: tuner[grid](*args, 2.0))
    ours = sequence(lambda tuner, *args: tritoncompat.launch(tuner, grid, *args, 2.0))
    assert ours == native
    assert native[1] == [1000, 999]  # tuned twice


@needs_backend
@pytest.mark.skipif(V < (3, 4), reason="Autotuner cache_results (disk cache) is 3.4+")
def test_cache_results_disk_cache_through_the_memo(fake_cuda, monkeypatch, tmp_path):
    """3.4+ cache_results: a second autotuner of the same kernel finds the tuning on disk (no
    benchmark) on its first launch through the memo, then hits the memo."""
    from tritoncompat.testing import fake as _fake

    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))
    benches = []
    real_bench = _fake._fake_bench

    def counting_bench(kernel_call, quantiles=None, **kwargs):
        benches.append(1)
        return real_bench(kernel_call, quantiles=quantiles, **kwargs)

    monkeypatch.setattr(_fake, "_fake_bench", counting_bench)
    kernel = make_tuned().fn
    x, out = tensors()
    first = triton.autotune(configs=CONFIGS, key=["n"], cache_results=True)(kernel)
    tritoncompat.launch(first, grid, x, out, 1000, 2.0)
    tuned_benches = len(benches)
    assert tuned_benches == len(CONFIGS)  # the first autotuner benchmarked every config
    second = triton.autotune(configs=CONFIGS, key=["n"], cache_results=True)(kernel)
    runs = count_triton_runs(monkeypatch, second)
    for _ in range(3):
        tritoncompat.launch(second, grid, x, out, 1000, 2.0)
    assert len(benches) == tuned_benches, "the second autotuner must read the disk cache"
    assert len(runs) == 1 and second.best_config == first.best_config
    first[grid](x, out, 1000, 2.0)
    native = launched(fake_cuda)
    tritoncompat.launch(second, grid, x, out, 1000, 2.0)
    assert launched(fake_cuda) == native


def make_stack(stack):
    """``heuristics`` over ``autotune`` or over another ``heuristics``, over a jit function (as
    mamba's and flash-linear-attention's kernels are built)."""
    def body(x_ptr, out_ptr, n, scale, BLOCK: tl.constexpr, EVEN: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * scale + EVEN, mask=m)

    inner = triton.jit(body)
    if stack == "heuristics/autotune":
        inner = triton.autotune(configs=CONFIGS, key=["n"])(inner)
    else:  # heuristics/heuristics
        inner = triton.heuristics({"BLOCK": lambda a: 128 if a["n"] > 512 else 64})(inner)
    return triton.heuristics({"EVEN": lambda a: a["n"] % 64 == 0})(inner)


@needs_backend
@pytest.mark.parametrize("via", ["launch", "patched"])
@pytest.mark.parametrize("stack", ["heuristics/autotune", "heuristics/heuristics"])
def test_every_wrapper_stack_takes_the_fast_path(fake_cuda, via, stack):
    kernel = make_stack(stack)
    x, out = tensors()
    natives = {}
    for n in (1000, 1024):  # EVEN False, True
        kernel[grid](x, out, n, 2.0)
        natives[n] = launched(fake_cuda)
    for round_ in range(4):
        for n in (1000, 1024):
            hits = tritoncompat.cache_info().hits
            via_call(via, kernel, x, out, n, 2.0)
            assert launched(fake_cuda) == natives[n], (stack, via, n)
            # (an autotuner's memo misses once, then its kernel's fast launcher once)
            if round_ >= 2:
                assert tritoncompat.cache_info().hits == hits + 1, "not a fast hit"
    assert not tritoncompat.cache_info().fallbacks
