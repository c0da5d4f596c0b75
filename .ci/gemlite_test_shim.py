"""A pytest plugin both passes of ``.ci/gpu-client .client/gemlite`` load (unpatched and patched
alike, so it changes nothing the comparison looks at).

gemlite 0.5.1.post1's own ``tests/test_gemlitelineartriton.py`` imports ``scale_activations``
from ``gemlite.core``, a name that release's ``core.py`` no longer has: it was renamed
``scale_activations_per_token`` (same signature, ``(x, w_dtype)``), and the test file, unchanged at
that tag and on gemlite's main since, fails to import. This puts the old name back as the new one
before the tests are collected, and does nothing where the name exists.
"""

import pytest


@pytest.hookimpl(trylast=True)  # after the patched pass's patch() (its plugin's pytest_configure)
def pytest_configure(config):
    import gemlite.core as core

    if not hasattr(core, "scale_activations") and hasattr(core, "scale_activations_per_token"):
        core.scale_activations = core.scale_activations_per_token
