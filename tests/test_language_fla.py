"""Real block-pointer kernels written by others: flash-linear-attention's, as fla-core 0.3.2 (MIT)
shipped them before fla migrated off block pointers (67 files, 1 421 ``tl.make_block_ptr`` calls).
tests/language_fla.py runs fla's own host functions (cumsum, l2norm, layer / RMS norm, mean pooling,
the scaled KK^T, solve_tril) in Triton's interpreter, each in a fresh process:

- as shipped (Triton's own block pointers, 3.8);
- rewritten by ``python -m tritoncompat migrate`` to ``tcl``, native (3.8) and emulated (3.8, 3.9):
  equal to fla as shipped bit for bit on 3.8, and to torch everywhere.

fla-core is a tox dependency of t380 and t390 (tox.ini); elsewhere these tests skip. The same
script runs compiled on the GPU (``python tests/language_fla.py MODE OUT cuda``, README "Block
pointers on Triton 3.9+"), where fla's kernels that the interpreter cannot run (they call
``tl.exp`` through a module alias) run too.
"""
import importlib.metadata
import importlib.util
import os
import subprocess
import sys

import pytest
import torch

from tritoncompat import _migrate
from tritoncompat.testing import TRITON_VERSION as V

# found, not imported: importing fla defines some hundred kernels in this process (the runs are
# subprocesses)
FLA = importlib.util.find_spec("fla")
pytestmark = pytest.mark.skipif(FLA is None, reason="fla-core 0.3.2 is installed in t380 and t390 only (tox.ini)")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# What runs in the interpreter (the others reach tl.exp through fla's module alias `exp`, which
# Triton's interpreter does not patch: they fail there as shipped, and run on the GPU)
INTERPRETED = ["cumsum", "l2norm", "layer_norm", "mean_pooling", "kkt", "solve_tril"]
HAS_NATIVE = V < (3, 9)


@pytest.fixture(scope="module")
def fla_source():
    assert importlib.metadata.version("fla-core") == "0.3.2", FLA.origin
    return os.path.dirname(FLA.origin)


def _run(tmp_path, mode, block_ptr=None):
    out = tmp_path / f"fla-{mode}-{block_ptr}.pt"
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TRITONCOMPAT_BLOCK_PTR", None)
    if block_ptr:
        env["TRITONCOMPAT_BLOCK_PTR"] = block_ptr
    done = subprocess.run([sys.executable, os.path.join(HERE, "language_fla.py"), mode, str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return torch.load(out), done.stdout


def _check_against_torch(results, label):
    for case in INTERPRETED:
        assert "error" not in results[case], (label, case, results[case])
        for key, ref in results[case]["ref"].items():
            got = results[case]["out"][key]
            assert got.shape == ref.shape, (label, key)
            torch.testing.assert_close(got.float(), ref.float(), atol=1e-4, rtol=1e-4, msg=f"{label}: {key}")


@pytest.mark.skipif(not HAS_NATIVE, reason="3.9+: no Triton block pointers to run fla as shipped")
def test_fla_as_shipped_equals_tcl_native_and_emulated_bit_for_bit(tmp_path, fla_source):
    shipped, _ = _run(tmp_path, "original")
    _check_against_torch(shipped, "fla as shipped")
    for block_ptr in ("native", "emulated"):
        ours, stdout = _run(tmp_path, "tcl", block_ptr)
        assert "rewritten files: 67" in stdout, stdout
        _check_against_torch(ours, f"tcl {block_ptr}")
        for case in INTERPRETED:
            for key, value in shipped[case]["out"].items():
                assert torch.equal(ours[case]["out"][key], value), (block_ptr, key)


def test_fla_rewritten_to_tcl_equals_torch(tmp_path, fla_source):
    """On every release with fla installed: 3.9 emulates (fla as shipped raises there)."""
    ours, stdout = _run(tmp_path, "tcl")
    assert "rewritten files: 67" in stdout, stdout
    _check_against_torch(ours, "tcl")


def test_migrate_rewrites_every_block_pointer_call_of_fla(fla_source):
    rewritten = 0
    for path in _migrate.python_files([fla_source]):
        with open(path) as f:
            source = f.read()
        new = _migrate.rewrite(source)
        if "tl.make_block_ptr" in source:
            rewritten += 1
            assert "import tritoncompat.language as tcl" in new
            assert _migrate._USES.search(new) is None and "tcl.make_block_ptr(" in new
            compile(new, path, "exec")
        else:
            assert new == source
    assert rewritten == 67
