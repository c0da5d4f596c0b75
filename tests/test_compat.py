"""tritoncompat._compat on the installed release: has(), the allocator, target and device
properties, Config / autotune / do_bench keyword filtering. Kernels compile for real under the
fake CUDA driver (tritoncompat.testing.fake)."""

import functools
import os
import re
import subprocess
import sys
import threading
import warnings

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
from tritoncompat import _compat, _version
from tritoncompat.testing import TRITON_VERSION as V

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _fresh_warnings_and_allocator():
    """Each test sees no earlier 'dropped' warning and leaves Triton's allocator as it found it."""
    _compat._WARNED.clear()
    module = _compat._allocation()
    saved = _compat._current(module) if module is not None else None
    if module is not None:
        module.set_allocator(module.NullAllocator())     # as in a fresh process
    yield
    _compat._WARNED.clear()
    if module is not None:
        module.set_allocator(saved)


# ------------------------------------------------------------------------------------ has()
def test_has_answers_every_feature_with_a_bool():
    answers = _compat.probe_all()
    assert set(answers) == set(_compat.FEATURES)
    assert all(type(a) is bool for a in answers.values())


@pytest.mark.parametrize("bad", ["tensor_descriptors", "", "TMA", None, 3])
def test_has_unknown_feature_names_the_argument(bad):
    with pytest.raises(ValueError, match=r"has\(feature=.*unknown feature; the probed ones are .*block_ptr"):
        tritoncompat.has(bad)


def _readme_table():
    text = open(os.path.join(ROOT, "README.md")).read()
    body = text.split("<!-- has-table: start -->")[1].split("<!-- has-table: end -->")[0]
    rows = [line.strip().strip("|").split("|") for line in body.strip().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0]]
    return header, {cells[0].strip().strip("`"): [c.strip() for c in cells] for cells in rows[2:]}


def test_readme_table_is_what_the_probes_answer_on_this_release():
    # The table is written by .ci/compat-table from these probes run in every release's env.
    header, rows = _readme_table()
    release = ".".join(map(str, tritoncompat.triton_version()))
    if release not in _version.RELEASES:
        pytest.skip(f"Triton {triton.__version__} is no release of the table (2.1.0 - 3.9.0; the canary)")
    assert release in header, f"README has() table has no column {release}: run .ci/compat-table"
    column = header.index(release)
    assert set(rows) == set(_compat.FEATURES), "README has() table rows differ from FEATURES: run .ci/compat-table"
    for name, cells in rows.items():
        assert (cells[column] == "Y") == tritoncompat.has(name), (name, release, cells[column])


def _compiles(fake, make):
    kernel = make()
    x = torch.zeros(64, 64)
    try:
        kernel[(1,)](x, 64)
    except Exception:
        return False
    return True


def test_has_block_ptr_is_whether_a_block_pointer_kernel_compiles(fake_cuda):
    def make():
        @triton.jit
        def k(x_ptr, n):
            p = tl.make_block_ptr(x_ptr, (n, n), (n, 1), (0, 0), (16, 16), (1, 0))
            tl.store(p, tl.load(p) + 1.0)
        return k

    assert _compiles(fake_cuda, make) == tritoncompat.has("block_ptr")


def test_has_gather_is_whether_tl_gather_compiles(fake_cuda):
    def make():
        @triton.jit
        def k(x_ptr, n):
            offs = tl.arange(0, 16)
            v = tl.load(x_ptr + offs)
            tl.store(x_ptr + offs, tl.gather(v, 15 - offs, 0))
        return k

    assert _compiles(fake_cuda, make) == tritoncompat.has("gather")


def test_import_tritoncompat_imports_no_triton_until_a_probe():
    code = ("import sys, tritoncompat; from tritoncompat import has, Config, target; "
            "print('triton' in sys.modules, 'torch' in sys.modules); "
            "tritoncompat.has('gather'); print('triton' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.stdout.split() == ["False", "False", "True"], out


# ------------------------------------------------------------------------------ allocator
def _triton_allocator():
    return _compat._current(_compat._allocation())


def _alloc(tag):
    def fn(size, alignment, stream):
        return torch.empty(size, dtype=torch.int8)
    fn.tag = tag
    return fn


needs_allocator = pytest.mark.skipif(not hasattr(triton, "set_allocator"), reason="triton.set_allocator is 3.3+")


@needs_allocator
def test_ensure_allocator_sets_once_and_never_clobbers():
    first, second = _alloc("library A"), _alloc("library B")
    assert tritoncompat.ensure_allocator(first) is True
    assert tritoncompat.ensure_allocator(second) is False       # a second library keeps A's
    assert _triton_allocator() is first
    mine = _alloc("user")
    triton.set_allocator(mine)                                  # the user's own, later
    assert tritoncompat.ensure_allocator(first) is False
    assert _triton_allocator() is mine


@needs_allocator
def test_scoped_allocator_restores_the_previous_one_even_on_error():
    outer, inner = _alloc("outer"), _alloc("inner")
    triton.set_allocator(outer)
    with tritoncompat.allocator(inner):
        assert _triton_allocator() is inner
    assert _triton_allocator() is outer
    with pytest.raises(KeyError):
        with tritoncompat.allocator(inner):
            raise KeyError
    assert _triton_allocator() is outer


@needs_allocator
def test_allocator_per_thread_where_triton_keeps_it_per_thread():
    # 3.3-3.4: one module global; 3.5+: a ContextVar, so a new thread starts with none.
    per_thread = isinstance(_compat._allocation()._allocator, _compat.ContextVar)
    main = _alloc("main")
    assert tritoncompat.ensure_allocator(main)
    results, barrier = {}, threading.Barrier(8)

    def worker(i):
        fn = _alloc(i)
        barrier.wait()
        results[i] = (tritoncompat.ensure_allocator(fn), _triton_allocator() is fn)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if per_thread:      # each thread set its own, once
        assert all(results[i] == (True, True) for i in range(8)), results
    else:               # the process-wide one, set by the main thread, is kept by every thread
        assert all(results[i] == (False, False) for i in range(8)), results
    assert _triton_allocator() is main


@needs_allocator
def test_concurrent_ensure_allocator_has_exactly_one_winner_per_scope():
    # 3.3-3.4 (process-wide): 8 racing threads, one winner; 3.5+: each thread its own.
    per_thread = isinstance(_compat._allocation()._allocator, _compat.ContextVar)
    module = _compat._allocation()
    if not per_thread:
        module.set_allocator(module.NullAllocator())
    winners, barrier = [], threading.Barrier(8)

    def worker(i):
        barrier.wait()
        if tritoncompat.ensure_allocator(_alloc(i)):
            winners.append(i)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == (8 if per_thread else 1)
    if not per_thread:
        assert _triton_allocator().tag == winners[0]


@pytest.mark.parametrize("bad", [None, 42, "torch.empty"])
def test_non_callable_allocator_raises_and_changes_nothing(bad):
    before = _triton_allocator() if hasattr(triton, "set_allocator") else None
    with pytest.raises(TypeError, match=r"ensure_allocator\(fn=\.\.\.\): the allocator must be callable"):
        tritoncompat.ensure_allocator(bad)
    with pytest.raises(TypeError, match=r"allocator\(fn=\.\.\.\)"):
        with tritoncompat.allocator(bad):
            pass
    if before is not None:
        assert _triton_allocator() is before


@pytest.mark.skipif(hasattr(triton, "set_allocator"), reason="this release has triton.set_allocator")
def test_allocator_is_a_no_op_before_3_3():
    assert not tritoncompat.has("set_allocator")
    assert tritoncompat.ensure_allocator(_alloc("x")) is False
    with tritoncompat.allocator(_alloc("x")):
        pass


# ------------------------------------------------------------------- target, device_properties
def test_target_and_device_properties_come_from_tritons_driver(fake_cuda):
    assert fake_cuda.drivers_created == 0
    assert tritoncompat.target() == ("cuda", 90, 32)
    assert tritoncompat.device_properties() == fake_cuda.properties
    for device in (1, "cuda:1", torch.device("cuda", 1), "cuda"):
        assert tritoncompat.device_properties(device)["multiprocessor_count"] == 132
    fake_cuda.capability = 80
    assert tritoncompat.target().arch == 80
    # the driver Triton created for them is the one its launches use: no second one
    k = _axpb()
    k[(1,)](torch.zeros(16), 16, BLOCK=16)
    assert fake_cuda.drivers_created == 1 and len(fake_cuda.calls) == 1


def _axpb():
    @triton.jit
    def k(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)
    return k


@pytest.mark.parametrize("bad, error", [("cpu", ValueError), (-1, ValueError), (1.0, TypeError), ("cuda:x", ValueError)])
def test_device_properties_bad_device_raises_before_any_driver(fake_cuda, bad, error):
    with pytest.raises(error, match=r"device_properties\(device="):
        tritoncompat.device_properties(bad)
    assert fake_cuda.drivers_created == 0


def test_target_in_a_fresh_process_touches_no_more_than_triton():
    # target() creates Triton's driver as Triton does, once, and imports no torch where Triton
    # itself has not (3.x: the fake driver never imports it; 2.x: triton imports torch itself).
    code = """if True:
        import sys
        import tritoncompat, triton
        from tritoncompat.testing import FakeCuda
        torch_before = 'torch' in sys.modules
        with FakeCuda() as fake:
            t = tritoncompat.target()
            print(tuple(t), fake.drivers_created, torch_before, 'torch' in sys.modules)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stderr
    target, created, before, after = out.stdout.strip().rsplit(" ", 3)
    assert target == "('cuda', 90, 32)" and created == "1" and after == before, out.stdout


# ------------------------------------------------------------- Config, autotune, do_bench
NON_NEUTRAL = {"num_warps": 8, "num_stages": 4, "pre_hook": print, "num_ctas": 2, "enable_warp_specialization": True,
               "maxnreg": 128, "num_buffers_warp_spec": 2, "num_consumer_groups": 2, "reg_dec_producer": 40,
               "reg_inc_consumer": 232, "ir_override": "kernel.ttgir"}


def _native_keywords(function):
    return set(_compat._parameters(function))


@pytest.mark.parametrize("name", sorted(_compat.CONFIG_KEYWORDS))
def test_config_keeps_what_the_release_has_and_drops_the_rest_with_one_warning(name):
    native = set(_compat._parameters(triton.Config))
    value = NON_NEUTRAL[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = tritoncompat.Config({"BLOCK": 64}, **{name: value})
        again = tritoncompat.Config({"BLOCK": 64}, **{name: value})
    assert type(config) is triton.Config and config.kwargs == {"BLOCK": 64}
    if name in native:
        assert getattr(config, name) == value and not caught
    else:
        assert not hasattr(config, name) or getattr(config, name) != value
        assert len(caught) == 1, [str(w.message) for w in caught]            # once, not per call
        assert issubclass(caught[0].category, tritoncompat.TritonCompatWarning)
        assert f"has no keyword {name!r}" in str(caught[0].message) and triton.__version__ in str(caught[0].message)
        assert caught[0].filename == __file__                                 # points at the caller
        with pytest.raises(TypeError, match=f"no keyword {name!r}.*strict"):
            tritoncompat.Config({"BLOCK": 64}, strict=True, **{name: value})
    assert vars(again) == vars(config)


def test_config_neutral_values_are_dropped_silently_and_match_native():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = tritoncompat.Config({"B": 1}, num_warps=4, num_ctas=1, maxnreg=None, ir_override=None,
                                     enable_warp_specialization=False, num_consumer_groups=0)
    assert vars(config) == vars(triton.Config({"B": 1}, num_warps=4))


def test_config_strict_from_the_environment(monkeypatch):
    missing = [n for n in ("ir_override", "enable_warp_specialization") if n not in _native_keywords(triton.Config)]
    monkeypatch.setenv("TRITONCOMPAT_STRICT", "1")
    with pytest.raises(TypeError, match="strict"):
        tritoncompat.Config({}, **{missing[0]: NON_NEUTRAL[missing[0]]})


@pytest.mark.parametrize("api", ["Config", "autotune", "do_bench"])
def test_a_keyword_no_release_has_is_a_type_error_and_warns_nothing(api):
    call = {"Config": lambda: tritoncompat.Config({}, num_warp=4),
            "autotune": lambda: tritoncompat.autotune([], key=[], cache_result=True),
            "do_bench": lambda: tritoncompat.do_bench(lambda: None, fastflush=False)}[api]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match=rf"tritoncompat.{api}\(\) got an unexpected keyword argument '\w+': no Triton release"):
            call()
    assert not _compat._WARNED


def test_autotune_with_every_releases_keywords_tunes_and_launches(fake_cuda):
    configs = [tritoncompat.Config({"BLOCK": 32}, num_warps=1, maxnreg=None),
               tritoncompat.Config({"BLOCK": 64}, num_warps=2, num_ctas=1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decorate = tritoncompat.autotune(configs, key=["n"], warmup=None, rep=None, use_cuda_graph=False,
                                         cache_results=False, do_bench=None, restore_value=None)
    assert not caught, [str(w.message) for w in caught]

    @decorate
    @triton.jit
    def k(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)

    assert isinstance(k, triton.runtime.autotuner.Autotuner)
    k[(1,)](torch.zeros(64), 64)
    assert k.best_config.kwargs["BLOCK"] in (32, 64) and fake_cuda.calls
    if "warmup" in _native_keywords(triton.autotune) and _compat._parameters(triton.autotune)["warmup"].default == 25:
        # 2.1-3.1: None meant the release's default (2.x keeps it in .warmup / .rep)
        stored = vars(k)
        assert (stored.get("num_warmups", stored.get("warmup")), stored.get("num_reps", stored.get("rep"))) == (25, 100)


def test_autotune_drops_cache_results_where_missing_with_one_warning():
    lacks = "cache_results" not in _native_keywords(triton.autotune)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tritoncompat.autotune([triton.Config({})], key=[], cache_results=True)
        tritoncompat.autotune([triton.Config({})], key=[], cache_results=True)
    assert len(caught) == (1 if lacks else 0)


def test_do_bench_one_signature_on_every_release(monkeypatch):
    seen = []
    real = triton.testing.do_bench

    @functools.wraps(real)          # the release's own signature (inspect follows __wrapped__)
    def recorder(fn, **kwargs):
        seen.append(kwargs)
        return 1.5
    monkeypatch.setattr(triton.testing, "do_bench", recorder)
    native = _native_keywords(real)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tritoncompat.do_bench(lambda: None, 5, 10, fast_flush=True, return_mode="median",
                                     device_type="cuda", quantiles=[0.5]) == 1.5
        tritoncompat.do_bench(lambda: None, fast_flush=False)
    assert seen[0] == dict(warmup=5, rep=10, grad_to_none=None, quantiles=[0.5], return_mode="median",
                           **{k: v for k, v in (("fast_flush", True), ("device_type", "cuda")) if k in native})
    # fast_flush=False is a request 3.2+ cannot honour: warned once; True is what they do anyway
    assert len(caught) == (0 if "fast_flush" in native else 1)
