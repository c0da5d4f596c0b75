"""Fresh processes, as users run them: each scenario of tests/fresh_scenario.py runs in a new
interpreter through tritoncompat (patched ``kernel[grid]`` and ``launch()``) and in another new
interpreter natively; the outcomes must be equal (launcher tuples on the fake driver, outputs on a
GPU, the error if one is raised), and the fast runs must have taken the fast path.

The suite's other tests share one process, where something has always launched before; these
prove the first launch of a process (Triton creating its driver, torch initialising CUDA) can be
ours. On a machine without a GPU Triton creates the fake driver lazily, as its real one.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import triton

from tritoncompat import _launch
from tritoncompat.testing import TRITON_VERSION as V, interpreter_problem

pytestmark = pytest.mark.triton

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fresh_scenario.py")
FAST = _launch.backend().module is not None

# Every env runs the core scenarios (the first launch of a process through each entry point);
# TRITONCOMPAT_FRESH=all (tox.ini sets it for one release per launch-ABI generation and for the
# releases that change how Triton creates its driver; .ci/gpu sets it) runs them all: a fresh
# interpreter costs a torch import, ~3 s of CPU, per process.
CORE = ["patched_first", "launch_first", "patch_at_import"]
ALL = CORE + ["autotuned_first", "heuristics_first", "decorated_before_patch", "decorated_after_patch",
              "placement_first", "fork_child", "library_patched_first"]
EVERY = os.environ.get("TRITONCOMPAT_FRESH") == "all"
SCENARIOS = ALL if EVERY else CORE


def run_scenario(tmp_path, scenario, mode, env=None):
    result = tmp_path / f"{scenario}-{mode}.json"
    environ = dict(os.environ if env is None else env)
    environ.setdefault("TRITONCOMPAT_VERIFY", "1")
    done = subprocess.run([sys.executable, SCRIPT, scenario, mode, str(result)], capture_output=True, text=True,
                          env=environ, timeout=600)
    assert done.returncode == 0 and result.exists(), f"{scenario} {mode} exited {done.returncode}:\n{done.stderr[-4000:]}"
    with open(result) as f:
        return json.load(f), done.stderr


def assert_same_outcome(native, fast, where):
    assert fast["error"] == native["error"], (where, fast["error"], native["error"])
    assert fast["outs"] == native["outs"], f"{where}: outputs differ from Triton's own launches"
    assert fast["calls"] == native["calls"], f"{where}: launcher tuples differ from Triton's own launches"


@pytest.fixture(scope="module")
def native_results(tmp_path_factory):
    return {}


def _native(native_results, tmp_path, scenario, env=None):
    key = (scenario, bool(env))
    if key not in native_results:
        native_results[key] = run_scenario(tmp_path, scenario, "native", env)[0]
    return native_results[key]


@pytest.mark.skipif(not FAST, reason=f"no backend for triton {triton.__version__}")
@pytest.mark.parametrize("mode", ["patched", "launch"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fresh_process_matches_native(tmp_path, native_results, scenario, mode):
    if scenario == "patch_at_import" and mode == "launch":
        pytest.skip("patch() at import is a patched scenario")
    native = _native(native_results, tmp_path, scenario)
    fast, stderr = run_scenario(tmp_path, scenario, mode)
    assert native["error"] is None or scenario == "fork_child", native["error"]
    assert_same_outcome(native, fast, f"{scenario} {mode}")
    if scenario == "library_patched_first":
        # another library's replacements ran exactly as often as natively; launch() went through
        # them (counted), patched launches reached the fast path through them (the run they call)
        assert fast["library_calls"] == native["library_calls"] and native["library_calls"], fast["library_calls"]
        if mode == "launch":
            assert fast["hits"] == 0 and fast["fallbacks"].get("run replaced") == 6, fast["fallbacks"]
            return
    assert fast["hits"] >= 1, f"{scenario} {mode}: no fast hit ({fast['misses']} misses, {fast['fallbacks']})"
    assert "TritonCompatWarning" not in stderr, stderr[-2000:]
    if scenario == "fork_child":
        # The child launches after its parent launched through tritoncompat: same outcome as a
        # native child (on a GPU, torch refuses CUDA in a forked child either way).
        child, native_child = fast["child"], native["child"]
        assert child["exitcode"] == native_child["exitcode"] == 0
        assert_same_outcome(native_child, child, f"{scenario} {mode} (child)")
        if child["error"] is None:
            assert child["hits"] > fast["hits"], "the child's launches were not fast hits"


@pytest.mark.skipif(not EVERY, reason="TRITONCOMPAT_FRESH=all only (one release per generation, see tox.ini)")
@pytest.mark.skipif(V < (2, 2), reason="2.1's interpreter is @triton.jit(interpret=True), not TRITON_INTERPRET")
@pytest.mark.skipif(interpreter_problem() is not None, reason=str(interpreter_problem()))
@pytest.mark.parametrize("mode", ["patched", "launch"])
def test_fresh_process_interpreter_first(tmp_path, native_results, mode):
    env = dict(os.environ, TRITON_INTERPRET="1")
    native = _native(native_results, tmp_path, "interpreter_first", env)
    fast, stderr = run_scenario(tmp_path, "interpreter_first", mode, env)
    assert native["error"] is None, native["error"]
    assert_same_outcome(native, fast, f"interpreter_first {mode}")
    assert fast["hits"] == 0
    if mode == "launch" and FAST:
        assert fast["fallbacks"] == {"interpreter": 3}


def test_python_m_tritoncompat_in_a_fresh_process():
    # The main job in a process that never launched anything: its self-check's first launch is
    # through tritoncompat.launch().
    done = subprocess.run([sys.executable, "-m", "tritoncompat"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "self-check" in done.stdout and ": ok" in done.stdout, done.stdout
    assert "TritonCompatWarning" not in done.stdout + done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    # calm: the package it imported is named; torch's and Triton's warnings come once, under their
    # heading, after the job's own lines (none on stderr); the fake driver's hand-off is not a fault
    assert re.search(r"^package +\S+tritoncompat", done.stdout, re.M), done.stdout
    assert "Warning" not in done.stderr and "Failed to initialize NumPy" not in done.stdout, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    heading = next((i for i, line in enumerate(lines) if line.startswith("warnings raised while running")), len(lines))
    assert all(line.startswith("  ") for line in lines[heading + 1:]), done.stdout
    assert not any("Warning:" in line for line in lines[:heading]) and "handoffs=" not in done.stdout, done.stdout
    # on a CPU machine, 3.0+: the same launch at the driver (fake libcuda), the own launch on 3.3+
    from tritoncompat.testing import fake_libcuda
    from tritoncompat.testing.fake import V

    if "(GPU)" not in done.stdout and "(interpreter)" not in done.stdout and not fake_libcuda.supported():
        assert "at the driver (fake libcuda, Triton's real launcher)" in done.stdout, done.stdout
        assert "byte for byte" in done.stdout, done.stdout
        from tritoncompat.backends import _direct

        # 3.3+ with a modelled launcher (Triton's main: "launcher not modelled", Triton's launcher)
        if V >= (3, 3) and _direct.model()[1] is not None and "accelerator   on" in done.stdout \
                and "TRITONCOMPAT_DIRECT" not in os.environ:
            assert "the own launch hands the driver" in done.stdout, done.stdout


@pytest.mark.skipif(not EVERY, reason="TRITONCOMPAT_FRESH=all only (one release per generation, see tox.ini)")
def test_python_m_tritoncompat_reports_each_step_whatever_the_compiler():
    """A compiler that fails (``CC=false``): the main job reports each step's verdict and never
    crashes. Today it ends in a traceback in the fake-libcuda step (``CC="gcc -O2"`` too:
    tests/test_fake_libcuda.py)."""
    cc = "false"
    done = subprocess.run([sys.executable, "-m", "tritoncompat"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, CC=cc))
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert "self-check" in done.stdout, done.stdout
    if "(CPU fake driver)" not in done.stdout:
        return  # on a GPU Triton builds its own launchers with this CC: they fail natively too
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ": ok" in done.stdout, done.stdout
    from tritoncompat.testing.fake import V

    if V >= (3, 0):
        assert "at the driver: not run (the fake libcuda: building the fake libcuda failed" in done.stdout, done.stdout
