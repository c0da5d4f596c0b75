"""Environment variables (``tritoncompat/_config.py``): a value a variable does not take never
breaks a launch, ``patch()`` or the report; it warns once, naming the variable and the value, and
the default is used. No Triton, no torch needed."""

import importlib.util
import os
import subprocess
import sys
import warnings

import pytest

from tritoncompat import _config, _select, _version
from tritoncompat._errors import TritonCompatWarning

# variable -> (a bad value, what Config holds instead: the default)
BAD = {
    "TRITONCOMPAT_MAX_ENTRIES": [("abc", 1024), ("0", 1024), ("-5", 1024), ("1.5", 1024)],
    "TRITONCOMPAT_DISABLE": [("maybe", False)],
    "TRITONCOMPAT_STRICT": [("2", False)],
    "TRITONCOMPAT_VERIFY": [("sure", False)],
}
FIELD = {"TRITONCOMPAT_MAX_ENTRIES": "max_entries", "TRITONCOMPAT_DISABLE": "disable",
         "TRITONCOMPAT_STRICT": "strict", "TRITONCOMPAT_VERIFY": "verify"}


@pytest.fixture
def clean_env(monkeypatch):
    for name in _config.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_config, "_warned", set(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("name, value, default", [(n, v, d) for n, cases in BAD.items() for v, d in cases])
def test_a_bad_value_warns_once_and_uses_the_default(clean_env, name, value, default):
    clean_env.setenv(name, value)
    with pytest.warns(TritonCompatWarning) as record:
        config = _config.read()
    assert getattr(config, FIELD[name]) == default
    assert len(record) == 1 and f"{name}={value!r}" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _config.read()  # once per process


@pytest.mark.parametrize("name, value", [("TRITONCOMPAT_ACCEL", "perhaps"), ("TRITONCOMPAT_DIRECT", "x")])
def test_the_flags_read_elsewhere_too(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.warns(TritonCompatWarning, match=f"{name}={value!r}"):
        assert _config.flag(name, True) is True


def test_good_values_are_silent(clean_env):
    clean_env.setenv("TRITONCOMPAT_MAX_ENTRIES", " 64 ")
    clean_env.setenv("TRITONCOMPAT_VERIFY", "Yes")
    clean_env.setenv("TRITONCOMPAT_DISABLE", "off")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = _config.read()
    assert (config.max_entries, config.verify, config.disable) == (64, True, False)


def test_an_unknown_backend_name_warns_and_uses_the_releases(clean_env):
    clean_env.setenv("TRITONCOMPAT_BACKEND", "v9_9")
    _select.reset()
    try:
        with pytest.warns(TritonCompatWarning, match="TRITONCOMPAT_BACKEND='v9_9'"):
            sel = _select.backend()
        expected = sel.detected.backend if sel.detected.backend in _version.BACKENDS else None
        assert (sel.module.NAME if sel.module else None) == expected
    finally:
        clean_env.delenv("TRITONCOMPAT_BACKEND")
        _select.reset()


@pytest.mark.skipif(os.environ.get("TRITONCOMPAT_FRESH") != "all" and importlib.util.find_spec("torch") is not None,
                    reason="a fresh `python -m tritoncompat report` (~10 s with torch): TRITONCOMPAT_FRESH=all envs only")
def test_the_report_survives_a_bad_value():
    """Today: ``python -m tritoncompat report`` crashes, and every launch() and patch() raises."""
    value = "abc"
    env = dict(os.environ, TRITONCOMPAT_MAX_ENTRIES=value)
    done = subprocess.run([sys.executable, "-m", "tritoncompat", "report"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr  # the main job shows warnings under a heading of its own
    assert output.count(f"TRITONCOMPAT_MAX_ENTRIES={value!r}") == 1, output
