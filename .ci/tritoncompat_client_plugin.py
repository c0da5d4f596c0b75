"""pytest plugin of the real-client check (.ci/gpu-client): runs a client library's own test
session with ``tritoncompat.patch()`` switched on, and dumps tritoncompat's counters at the end.

    PYTHONPATH=<repo>/.ci:<repo>:... TRITONCOMPAT_CLIENT_INFO=/tmp/info.json \
        python3 -m pytest -p tritoncompat_client_plugin <the client's tests>

``pytest_configure`` calls ``tritoncompat.patch()``: it replaces class attributes
(``JITFunction.run`` / ``__getitem__``, ``Autotuner.run``), so the kernels the client defined
while its conftest was imported (before ``pytest_configure``) go through the fast path too.
``pytest_sessionfinish`` writes ``cache_info()`` (hits, misses, entries, evictions, fallbacks by
reason), ``tritoncompat._launch.status()`` and the busiest kernels as JSON to the path in
``TRITONCOMPAT_CLIENT_INFO`` (nothing is written when it is unset). Nothing else is touched: no
fixture, no hook that changes collection, outcomes or reports.
"""
import json
import os
import time

import pytest

_state = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    import tritoncompat

    _state["started"] = time.time()
    _state["patch_returned"] = tritoncompat.patch()


def _kernels(limit=20):
    """The busiest kernels by fast hits (private counters: best effort, [] if they moved)."""
    try:
        from tritoncompat import _cache

        rows = []
        for cache in list(_cache._live):
            info = cache.info()
            rows.append(dict(name=cache.name, **info))
        rows.sort(key=lambda r: (-r["hits"], -r["misses"], r["name"]))
        return rows[:limit], len(rows)
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return [{"error": repr(exc)}], None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TRITONCOMPAT_CLIENT_INFO")
    if not path:
        return
    import tritoncompat

    info = tritoncompat.cache_info()
    try:
        from tritoncompat import _launch

        status = _launch.status()
    except Exception as exc:  # noqa: BLE001 - report it, keep the counters
        status = {"error": repr(exc)}
    kernels, live = _kernels()
    data = {
        "patch_returned": _state.get("patch_returned"),
        "is_patched": tritoncompat.is_patched(),
        "exitstatus": int(exitstatus),
        "seconds": round(time.time() - _state.get("started", time.time()), 1),
        "cache_info": {
            "hits": info.hits,
            "misses": info.misses,
            "entries": info.entries,
            "evictions": info.evictions,
            "fallbacks": dict(info.fallbacks),
            "own": getattr(info, "own", None),  # compiled kernels launched straight at the driver
            "handoffs": dict(getattr(info, "handoffs", {})),
        },
        "status": status,
        "kernel_caches": live,
        "top_kernels": kernels,
    }
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=repr)
