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
    ("3.11.0", None, None),
    ("3.10.0+git1234abcd", None, None),  # a local build of an unknown release
    ("3.9.10", None, None),  # what tokenspeed-triton's build of Triton's main reports
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


# Comparisons of TritonVersion: (version, other, expected sign of version - other).
COMPARISONS = [
    ("3.10.0", "3.4", 1),
    ("3.10.0", (3, 4), 1),
    ("3.10.0", (3, 10), 0),
    ("3.10.0", "3.10", 0),
    ("3.10.0", (3, 10, 1), -1),
    ("3.10.0", "3.9.0", 1),
    ("3.11.0", "3.10.0", 1),
    ("4.0.0", (3, 99), 1),
    ("4.0.0", "4", 0),
    ("3.9.0", (3, 10), -1),
    ("3.1.0", (3, 10), -1),
    ("3.10.0rc1", (3, 10), 0),  # a pre-release of 3.10 gates as 3.10 (documented)
    ("3.3.1+gitc8757738", "3.3.1", 0),
    ("3.9.10", (3, 10), -1),
    ("2.1.0", "2.1.0", 0),
]


@pytest.mark.parametrize("version, other, sign", COMPARISONS)
def test_triton_version_compares_numerically(version, other, sign):
    v = _version.parse(version)
    assert (v > other, v == other, v < other) == (sign > 0, sign == 0, sign < 0)
    assert (v >= other, v <= other, v != other) == (sign >= 0, sign <= 0, sign != 0)
    # reflected: the other operand on the left
    assert (other < v, other == v, other > v) == (sign > 0, sign == 0, sign < 0)


def test_triton_version_parts_and_labels():
    v = _version.parse("3.10.0rc1")
    assert tuple(v) == (3, 10, 0) and (v.major, v.minor, v.micro) == (3, 10, 0)
    assert (v.pre, v.dev, v.post, v.local, v.exact) == (("rc", 1), None, None, None, False)
    assert str(v) == "3.10.0rc1" and repr(v) == "TritonVersion('3.10.0rc1')"
    assert _version.parse("3.8.0.dev20250101").dev == 20250101
    assert _version.parse("3.3.1+gitc8757738").local == "gitc8757738"
    assert _version.parse("3.10.0").exact
    assert hash(_version.parse("3.10")) == hash((3, 10, 0))
    assert _version.parse("3.10.0") != [3, 10, 0]  # not a version: unequal, not an error
    with pytest.raises(TypeError):
        _version.parse("3.10.0") < [3, 10]
    with pytest.raises(ValueError, match="not a Triton version"):
        _version.parse("not-a-version")


def test_release_key_sorts_two_digit_minors():
    releases = ["4.0.0", "3.10.0", "3.9.0", "3.11.0", "3.1.0", "2.1.0", "3.10.1"]
    assert sorted(releases, key=_version.release_key) == ["2.1.0", "3.1.0", "3.9.0", "3.10.0", "3.10.1",
                                                           "3.11.0", "4.0.0"]
    assert list(_version.RELEASES) == sorted(_version.RELEASES, key=_version.release_key)


try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # the suite needs hypothesis; this module also runs without it
    given = None

if given is not None:
    part = st.integers(0, 120)

    @given(st.tuples(part, part, part), st.tuples(part, part, part))
    def test_triton_version_orders_like_its_numbers(a, b):
        va, vb = (_version.parse(".".join(map(str, t))) for t in (a, b))
        assert (va < vb, va == vb, va > vb) == (a < b, a == b, a > b)
        assert (va < ".".join(map(str, b))) == (a < b) and (va >= b) == (a >= b)


def test_triton_version_of_the_installed_triton():
    import tritoncompat

    assert tritoncompat.triton_version is _version.triton_version
    found = _version.triton_version()
    try:
        import triton
    except ImportError:
        assert found is None
        return
    assert found.string == triton.__version__ and found == triton.__version__.split("+")[0]


def test_triton_version_without_triton_is_none():
    code = ("import sys; sys.modules['triton'] = None; import tritoncompat; "
            "print(tritoncompat.triton_version())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"


def env_name(release):
    """The tox env of a release: tNNN while every part is one digit (t390: 3.9.0), else
    t<major>_<minor>_<micro> (t3_10_0, t4_0_0): t310 is 3.1.0, never 3.10.0."""
    parts = release.split(".")
    return "t" + ("".join(parts) if all(len(p) == 1 for p in parts) else "_".join(parts))


# tNNN or tM_N_P, then -pyonly or -cp3NN (Python 3.NN); the canary (Triton's main) has its own name
_CELL_PATTERN = r"t(?:(\d)(\d)(\d)|(\d+)_(\d+)_(\d+))(?:-pyonly|-cp(\d)(\d+))?"
CELL = re.fullmatch(_CELL_PATTERN, os.environ.get("TOX_ENV_NAME", ""))


def cell_release(match):
    return ".".join(g for g in match.groups()[:6] if g is not None)


@pytest.mark.parametrize("release, env", [("3.9.0", "t390"), ("3.1.0", "t310"), ("3.10.0", "t3_10_0"),
                                          ("3.11.0", "t3_11_0"), ("4.0.0", "t400"), ("3.10.1", "t3_10_1"),
                                          ("10.0.0", "t10_0_0")])
def test_env_names_are_unambiguous(release, env):
    assert env_name(release) == env
    for suffix in ("", "-pyonly", "-cp313"):
        m = re.fullmatch(_CELL_PATTERN, env + suffix)
        assert m is not None and cell_release(m) == release


def test_every_release_has_its_matrix_cell():
    """Adding a release is a table entry plus its cell: the constraints file, the env in tox.ini's
    env_list and its deps line, all named by env_name()."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tox = (root / "tox.ini").read_text()
    env_list = re.search(r"^env_list\s*=(.*?)^\S", tox, re.S | re.M).group(1)
    envs = {e.strip() for e in env_list.replace("\n", ",").split(",") if e.strip()}
    for release in _version.RELEASES:
        env = env_name(release)
        assert env in envs, f"{release}: tox env {env} missing from env_list"
        assert f"    {env}: -c matrix/triton-{release}.txt" in tox, f"{release}: no deps line for {env}"
        pins = (root / "matrix" / f"triton-{release}.txt").read_text()
        assert f"triton=={release}" in pins.splitlines()
    for env in envs:
        assert env == "canary" or re.fullmatch(_CELL_PATTERN, env), env


@pytest.mark.triton
@pytest.mark.skipif(CELL is None, reason="not run by a tox matrix env (tNNN, tM_N_P)")
def test_matrix_cell_runs_the_pinned_versions():
    """Each matrix cell runs the Triton (and numpy) its constraints file pins, and a -cp3NN cell
    the Python it names."""
    from importlib.metadata import version
    from pathlib import Path

    import triton
    from packaging.requirements import Requirement

    release = cell_release(CELL)
    if CELL.group(7):
        assert sys.version_info[:2] == (int(CELL.group(7)), int(CELL.group(8)))
    assert triton.__version__ == release
    path = Path(__file__).resolve().parent.parent / "matrix" / f"triton-{release}.txt"
    pins = [Requirement(line) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert any(req.name == "triton" for req in pins)
    for req in pins:
        assert req.specifier.contains(version(req.name), prereleases=True), (req, version(req.name))


@pytest.mark.triton
@pytest.mark.skipif(os.environ.get("TOX_ENV_NAME") != "canary", reason="the canary env only (Triton's main)")
def test_canary_runs_tritons_main_as_triton():
    """The canary runs the vendor build of Triton's main through matrix/canary's shim: `triton` and
    every `triton.*` module are the vendor's own module objects, loaded lazily, and Triton's backend
    registry (its entry points) finds the NVIDIA backend."""
    from importlib.metadata import version

    code = ("import sys, tritoncompat; print('triton' in sys.modules); import triton, triton.language as tl; "
            "from triton.backends.nvidia import driver; from triton.backends import backends; "
            "print(triton.__name__, tl is sys.modules['tokenspeed_triton.language'], "
            "driver is sys.modules['tokenspeed_triton.backends.nvidia.driver'], "
            "sys.modules['triton.runtime.jit'] is sys.modules['tokenspeed_triton.runtime.jit'], 'nvidia' in backends)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "tokenspeed_triton", "True", "True", "True", "True"], out
    assert _version.distribution() == ("tokenspeed-triton", version("tokenspeed-triton"))
