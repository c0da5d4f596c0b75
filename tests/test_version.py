"""_version: the release -> backend table (no Triton needed)."""

import os
import re
import subprocess
import sys

import pytest

from tritoncompat import _version

# (version string, release it matches, backend)
CASES = [
    ("2.1.0", "2.1.0", "v2_1"),
    ("2.2.0", "2.2.0", "v2_2"),
    ("2.3.0", "2.3.0", "v2_3"),
    ("2.3.1", "2.3.1", "v2_3"),
    ("3.0.0", "3.0.0", "v3_0"),
    ("3.1.0", "3.1.0", "v3_0"),
    ("3.2.0", "3.2.0", "v3_0"),
    ("3.3.0", "3.3.0", "v3_3"),
    ("3.3.1", "3.3.1", "v3_3"),
    ("3.4.0", "3.4.0", "v3_3"),
    ("3.5.0", "3.5.0", "v3_3"),
    ("3.5.1", "3.5.1", "v3_3"),
    ("3.6.0", "3.6.0", "v3_3"),
    ("3.7.0", "3.7.0", "v3_3"),
    ("3.7.1", "3.7.1", "v3_3"),
    ("3.8.0", "3.8.0", "v3_3"),
    ("3.9.0", "3.9.0", "v3_3"),
    ("3.3.1+gitc8757738", "3.3.1", "v3_3"),  # pytorch-triton local build of a release
    ("3.6", "3.6.0", "v3_3"),
    ("2.0.0", None, None),
    ("3.10.0", None, None),
    ("4.0.0", None, None),
    ("3.7.0rc1", None, None),
    ("3.8.0.dev20250101", None, None),
    ("not-a-version", None, None),
]


@pytest.mark.parametrize("version, release, backend", CASES)
def test_backend_for(version, release, backend):
    assert _version.backend_for(version) == (version, release, backend)


def test_table_covers_all_17_releases():
    assert len(_version.RELEASES) == 17
    assert set(_version.RELEASES.values()) == {"v2_1", "v2_2", "v2_3", "v3_0", "v3_3"}
    assert set(_version.BACKENDS) <= set(_version.RELEASES.values())


def test_existing_backend_modules_match_table():
    here = os.path.join(os.path.dirname(_version.__file__), "backends")
    modules = {f[:-3] for f in os.listdir(here) if re.fullmatch(r"v\d_\d\.py", f)}
    assert modules == set(_version.BACKENDS)


def test_import_is_light_and_side_effect_free():
    code = ("import sys, warnings; warnings.simplefilter('error'); import tritoncompat; "
            "print(sorted(m for m in ('triton', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# tNNN, tNNN-pyonly, tNNN-cp3NN (Python 3.NN)
CELL = re.fullmatch(r"t(\d)(\d)(\d)(?:-pyonly|-cp(\d)(\d+))?", os.environ.get("TOX_ENV_NAME", ""))


@pytest.mark.triton
@pytest.mark.skipif(CELL is None, reason="not run by a tox matrix env (tNNN)")
def test_matrix_cell_runs_the_pinned_versions():
    """Each matrix cell runs the Triton (and numpy) its constraints file pins, and a -cp3NN cell
    the Python it names."""
    from importlib.metadata import version
    from pathlib import Path

    import triton
    from packaging.requirements import Requirement

    release = ".".join(CELL.groups()[:3])
    if CELL.group(4):
        assert sys.version_info[:2] == (int(CELL.group(4)), int(CELL.group(5)))
    assert triton.__version__ == release
    path = Path(__file__).resolve().parent.parent / "matrix" / f"triton-{release}.txt"
    pins = [Requirement(line) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert any(req.name == "triton" for req in pins)
    for req in pins:
        assert req.specifier.contains(version(req.name), prereleases=True), (req, version(req.name))
