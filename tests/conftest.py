"""Markers, skips and fixtures shared by the suite.

``triton``: needs Triton installed; ``gpu``: needs a CUDA GPU. Both are skipped with a reason
otherwise. The suite runs with ``TRITONCOMPAT_VERIFY=1`` (every fast hit is checked against
Triton's own key computation) unless the environment says otherwise.
"""

import importlib.util
import os

import pytest

os.environ.setdefault("TRITONCOMPAT_VERIFY", "1")
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("default", max_examples=40, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.register_profile("thorough", max_examples=300, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
except ImportError:
    pass

HAS_TRITON = importlib.util.find_spec("triton") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
# The modules that need no torch. The tNNN-cp3NN envs (Pythons whose only torch on PyPI is a
# multi-GB CUDA build) have none and run these; every other module needs torch, and is skipped
# whole, with the reason, where it is missing (instead of erroring at its `import torch`).
TORCH_FREE = {"test_accel_notorch.py", "test_accel_build.py", "test_cache.py", "test_cli.py", "test_config.py",
              "test_structure.py", "test_version.py", "test_doctor.py"}


class _NeedsTorch(pytest.Module):
    def collect(self):
        pytest.skip(f"{self.path.name} needs torch, which is not installed here (the tNNN-cp3NN envs run "
                    "without it: see matrix/README.md)", allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    if not HAS_TORCH and module_path.name not in TORCH_FREE:
        return _NeedsTorch.from_parent(parent, path=module_path)


def _has_gpu():
    if not HAS_TRITON or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def pytest_configure(config):
    config.addinivalue_line("markers", "triton: needs Triton installed")
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (the H100 machine)")


# The canary (tox env `canary`: the whole suite on a build of Triton's main): tests that fail
# there because Triton's main behaves differently from every release, each with what changed.
# xfail, not strict, and only in the canary: the day the release ships, each entry either becomes
# a fix or a documented difference of that release.
CANARY = os.environ.get("TRITONCOMPAT_CANARY", "0") == "1"
CANARY_NEW_BEHAVIOUR = {
    "tests/test_compat.py::test_readme_table_is_what_the_probes_answer_on_this_release":
        "a release (3.9.10) the README's has() table has no column for; its column comes with its table entry",
}


def pytest_collection_modifyitems(config, items):
    gpu = _has_gpu()
    for item in items:
        if CANARY:
            for prefix, reason in CANARY_NEW_BEHAVIOUR.items():
                if item.nodeid.startswith(prefix):
                    item.add_marker(pytest.mark.xfail(reason=f"new on Triton's main: {reason}", strict=False))
        if "triton" in item.keywords and not HAS_TRITON:
            item.add_marker(pytest.mark.skip(reason="Triton is not installed"))
        if "gpu" in item.keywords and not gpu:
            item.add_marker(pytest.mark.skip(reason="no CUDA GPU on this machine (GPU tests run on the H100 machine)"))


@pytest.fixture(scope="session", autouse=True)
def _triton_release(record_testsuite_property):
    """The Triton release under test, in the junit XML (``.ci/run``'s summary shows it)."""
    from importlib import metadata

    try:
        release = metadata.version("triton")
    except metadata.PackageNotFoundError:
        release = "-"
        if HAS_TRITON:  # a vendor build (the canary's tokenspeed-triton): its distribution's version
            from tritoncompat import _version

            found = _version.distribution()
            release = found[1] if found else "-"
    record_testsuite_property("triton", release)


@pytest.fixture(autouse=True)
def _fresh_tritoncompat():
    """Every test starts from a re-read environment, an unpatched Triton and zeroed counters."""
    if HAS_TRITON:
        import tritoncompat
        from tritoncompat import _launch

        tritoncompat.unpatch()
        _launch.reload()
        tritoncompat.cache_clear()
        yield
        tritoncompat.unpatch()
        _launch.reload()
    else:
        yield


@pytest.fixture
def fake_cuda():
    """Triton compiles for real and stops at a fake launcher that records its arguments
    (tritoncompat.testing.fake). Kernels must be defined after it is installed (2.1)."""
    from tritoncompat.testing import FakeCuda

    with FakeCuda() as fake:
        yield fake


@pytest.fixture
def fake_libcuda():
    """FakeCuda with Triton's real launcher, built against the fake libcuda (3.3+; skipped with
    the reason elsewhere): the driver launches it records are in ``fake.libcuda.launches()``
    (tritoncompat.testing.fake_libcuda). Its recordings, ranges and switches start empty."""
    from tritoncompat.testing import FakeCuda, fake_libcuda as module

    problem = module.supported()
    if problem:
        pytest.skip(f"fake libcuda: {problem}")
    with FakeCuda(real_launcher=True) as fake:
        module.reset()
        yield fake
        module.reset()
