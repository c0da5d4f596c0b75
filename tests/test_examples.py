"""examples/ runs as a user runs it: each script in a fresh process, on every release of the
matrix (through the fake driver here; unchanged on a GPU, where results are checked)."""

import os
import subprocess
import sys

import pytest

import tritoncompat

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
# The children import the tritoncompat this process imported (tox: the installed wheel).
SITE = os.path.dirname(os.path.dirname(os.path.abspath(tritoncompat.__file__)))

pytestmark = pytest.mark.triton


def _run(script, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SITE, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=EXAMPLES)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _gpu():
    import torch

    return torch.cuda.is_available()


def test_quickstart():
    out = _run("quickstart.py")
    if _gpu():
        assert out.count("result checked") == 2, out
    else:
        assert "no CUDA GPU here" in out and "fake CUDA driver" in out and out.count("nothing computed") == 2, out
    # 2 timing loops of 2000 launches + the 2 untimed calls: every launch after the first is a hit
    assert "2002 fast-path hits, 1 miss" in out, out


@pytest.mark.parametrize("installed", [True, False])
def test_library_adoption(installed):
    out = _run("library_adoption.py", *([] if installed else ["--without-tritoncompat"]))
    if installed:
        assert "through tritoncompat.launch" in out and "2 fast-path hits, 1 miss" in out, out
    else:
        assert "Triton's own launch (tritoncompat is not installed)" in out and "fast-path" not in out, out
    assert ("result checked" if _gpu() else "fake CUDA driver") in out, out
