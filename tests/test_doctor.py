"""The doctor (tritoncompat/_doctor.py): the installed release is identical to its own entry of the
committed table on every point; the verdict on unknown, pre-release, dev, local and vendor builds;
an unknown release served on trust (TRITONCOMPAT_TRUST_UNKNOWN=1) with its first hits verified, and
one that differs kept on Triton's own path with the verdict in its warning."""

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings

import pytest

from tritoncompat import _doctor, _known, _version

HAS_TRITON = importlib.util.find_spec("triton") is not None
CANARY = os.environ.get("TRITONCOMPAT_CANARY", "0") == "1"
BASE = "3.9.0"  # the table entry the synthetic cases start from


def test_table_covers_every_release_of_the_version_table():
    assert set(_known.KNOWN) == set(_version.RELEASES)
    names = {_doctor.point_name(m, q) for _, m, q in _doctor.POINTS}
    for release, entry in _known.KNOWN.items():
        assert entry["version"] == release and entry["module"] == "triton"
        assert set(entry["fingerprints"]) == names, release
        assert entry["probes"] and not entry["specializer"].startswith("error"), release
        assert not any(str(v).startswith("error") for v in entry["fingerprints"].values()), release


def test_every_known_release_is_told_apart_or_named_identical():
    # each release's entry, diagnosed as if it were installed, is identical to itself
    for release, entry in _known.KNOWN.items():
        d = _doctor.diagnose(copy.deepcopy(entry), detected=_version.backend_for(release))
        assert d.identical and d.closest == release and d.known, (release, d.verdict)
        assert d.verdict.endswith(f"identical to {release} on every point"), d.verdict


def _as(version, change=None):
    found = copy.deepcopy(_known.KNOWN[BASE])
    found["version"] = version
    found["distribution"] = ["triton", version]
    if change:
        change(found)
    return _doctor.diagnose(found, detected=_version.backend_for(version))


@pytest.mark.parametrize("version, kind", [
    ("3.10.0", "an unknown release"),
    ("3.10.0rc1", "a pre-release"),
    ("3.10.0.dev20261201", "a dev build"),
    ("3.9.0.post1", "a post-release"),
    ("3.10.0+git1234abcd", "a local build"),
    ("4.0.0", "an unknown release"),
    ("not-a-version", "an unknown release"),
])
def test_unknown_identical_release_names_what_was_found_and_what_serves_it(version, kind):
    d = _as(version)
    assert not d.known and d.identical and d.closest == BASE and d.backend == "v3_3"
    assert _doctor.trusted(d)
    assert d.verdict == (f"triton {version}: {kind}, not in the table; identical to {BASE} on every point; "
                         "served by v3_3 with TRITONCOMPAT_TRUST_UNKNOWN=1, else Triton's own path")


def test_a_changed_function_is_named_and_not_trusted():
    d = _as("3.10.0", lambda f: f["fingerprints"].update({"JITFunction.run": "0" * 16}))
    assert not _doctor.trusted(d) and d.jit == ("JITFunction.run",) and d.closest == BASE
    assert "changed: JITFunction.run" in d.verdict and "Triton's own path" in d.verdict


def test_a_changed_probe_is_named_and_not_trusted():
    d = _as("3.10.0", lambda f: f["probes"].update({"int 16": "('i32', None)"}))
    assert not _doctor.trusted(d) and d.probes == ("int 16",)
    assert "specialization differs on 1 probe(s): int 16" in d.verdict


def test_a_changed_launcher_is_trusted_with_the_own_launch_off():
    d = _as("3.10.0", lambda f: f["fingerprints"].update({"driver.c": "0" * 16}))
    assert _doctor.trusted(d) and d.launcher == ("driver.c",) and not d.identical
    assert "the launcher differs (driver.c): the own launch stays off" in d.verdict


def test_a_known_release_that_differs_from_its_entry_says_so():
    found = copy.deepcopy(_known.KNOWN[BASE])
    found["fingerprints"]["KernelInterface.__getitem__"] = "0" * 16
    d = _doctor.diagnose(found, detected=_version.backend_for(BASE))
    assert d.known and d.closest == BASE and d.jit == ("KernelInterface.__getitem__",)
    assert d.verdict.startswith(f"triton {BASE}: known release {BASE}, served by v3_3")


def test_the_closest_release_is_the_newest_of_equals():
    d = _as("3.10.0", lambda f: f["fingerprints"].update({"Autotuner.run": "0" * 16}))
    assert d.closest == BASE  # not an older release that happens to share the other points


pytestmark_triton = pytest.mark.skipif(not HAS_TRITON, reason="Triton is not installed")


@pytestmark_triton
def test_the_installed_release_matches_its_table_entry():
    """The table is what each release's own wheel shows: on every matrix cell, the installed
    Triton is identical to its entry on every point (the canary: what differs is named)."""
    d = _doctor.diagnose()
    detected = _version.detect()
    if detected.release is not None:
        assert d.identical and d.closest == detected.release, d.verdict
        assert d.verdict.endswith(f"identical to {detected.release} on every point")
    else:
        assert not d.known and d.closest in _known.KNOWN and d.verdict.startswith(f"triton {detected.version}")


@pytestmark_triton
def test_doctor_command_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-m", "tritoncompat", "doctor"], capture_output=True, text=True,
                          timeout=300)
    verdict = _doctor.diagnose().verdict
    assert done.stdout.splitlines()[0] == verdict, done.stdout + done.stderr
    assert done.returncode == (0 if _doctor.diagnose().identical else 1)
    as_json = subprocess.run([sys.executable, "-m", "tritoncompat", "doctor", "--json"], capture_output=True,
                             text=True, timeout=300)
    assert json.loads(as_json.stdout)["verdict"] == verdict
    record = subprocess.run([sys.executable, "-m", "tritoncompat", "doctor", "--record"], capture_output=True,
                            text=True, timeout=300)
    assert json.loads(record.stdout) == _doctor.examine()


@pytestmark_triton
@pytest.mark.skipif(CANARY, reason="the canary's build differs from every known release (doctor names how)")
@pytest.mark.parametrize("trust", [True, False])
def test_unknown_release_on_trust_or_native(fake_cuda, monkeypatch, trust):
    """The installed release under an unknown version number: identical on every point to its
    table entry, so with TRITONCOMPAT_TRUST_UNKNOWN=1 its backend serves it (one warning naming
    the release and the verdict; each cache entry's first hits checked against Triton's own key,
    then not); without, Triton's own path with the verdict in the warning."""
    pytest.importorskip("torch")  # the corpus' tensors
    import corpus
    import triton

    import tritoncompat
    from tritoncompat import _launch
    from tritoncompat.backends import _common

    release = _version.detect().release
    if _version.RELEASES[release] not in _version.BACKENDS:
        pytest.skip(f"no backend for {release}")
    monkeypatch.setattr(triton, "__version__", "9.99.0")
    monkeypatch.setenv("TRITONCOMPAT_TRUST_UNKNOWN", "1" if trust else "0")
    monkeypatch.setenv("TRITONCOMPAT_VERIFY", "0")
    verified = []
    original = _common.JitState._verify

    def counted(self, *a):
        verified.append(a[0])
        return original(self, *a)

    monkeypatch.setattr(_common.JitState, "_verify", counted)
    _launch.reload()
    name, kernel, grid, args, kwargs = corpus.cases()[0]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(8):
            tritoncompat.launch(kernel, grid, *args, **kwargs)
        native = fake_cuda.calls[-1]
    ours = [str(w.message) for w in record if issubclass(w.category, tritoncompat.TritonCompatWarning)]
    assert len(ours) == 1, ours
    sel = _launch.backend()
    info = tritoncompat.cache_info()
    # the release named: this one, or a newer one identical to it on every point (3.0.0 is 3.1.0's twin)
    named = re.search(r"identical to (\S+) on every point", ours[0]).group(1)
    assert _doctor._differences(_known.KNOWN[release], _known.KNOWN[named]) == ([], [], []), named
    if trust:
        assert sel.module is not None and sel.module.NAME == _version.RELEASES[release]
        assert "triton 9.99.0 is not a known release; served by" in ours[0] and "first 3 hits" in ours[0]
        assert info.misses == 1 and info.hits == 7, info
        assert len(verified) == 3 and all(e is verified[0] for e in verified)
        kernel[grid](*args, **kwargs)  # Triton's own launch: the same call, but for the idle hooks' slots
        hooks = sel.module.LAUNCHER_LAYOUT["hook_slots"]
        assert [v for i, v in enumerate(fake_cuda.calls[-1]) if i not in hooks] == \
            [v for i, v in enumerate(native) if i not in hooks]
    else:
        assert sel.module is None and "unsupported triton release 9.99.0 (doctor:" in ours[0]
        assert info.hits == 0 and sum(info.fallbacks.values()) == 8 and not verified
