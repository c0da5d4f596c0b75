"""The optional accelerator: ``_accel.c``, compiled on first use, serves the plain cache hits of
3.0 - 3.9 generated launchers in C (see the C file's header for what it does and does not do).

It is built the way Triton builds its own launchers: with the C compiler (``$CC``, else ``cc`` /
``gcc`` / ``clang``) and the Python headers, into a cache directory (``TRITONCOMPAT_CACHE_DIR``,
else ``~/.cache/tritoncompat``), once per source / Python build. A machine that runs Triton on a
GPU has both, since Triton compiles its own launcher with them. Without them, or with
``TRITONCOMPAT_ACCEL=0``, every launcher stays pure Python (same results, more host time);
:func:`state` says which, and why.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from typing import Any, Optional, Tuple

__all__ = ["load", "state", "SOURCE"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_accel.c")

_lock = threading.Lock()
_loaded: Optional[Tuple[Any, str]] = None  # (module or None, description)


def _compiler() -> Optional[str]:
    cc = os.environ.get("CC")
    if cc:
        return shutil.which(cc.split()[0]) and cc
    return next((found for name in ("cc", "gcc", "clang") if (found := shutil.which(name))), None)


def _cache_dir() -> str:
    return os.environ.get("TRITONCOMPAT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tritoncompat")


def _build(cc: str, target: str) -> None:
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise RuntimeError(f"no Python.h in {include}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=os.path.dirname(target))
    os.close(fd)
    try:
        command = [*cc.split(), "-O2", "-shared", "-fPIC", "-std=c99", f"-I{include}", SOURCE, "-o", tmp]
        if sys.platform.startswith("linux"):
            command.append("-ldl")  # dlopen (the own launch): in libdl before glibc 2.34
        if sys.platform == "darwin":
            command[1:1] = ["-undefined", "dynamic_lookup"]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() if "error" in line] or done.stdout.splitlines()
            raise RuntimeError(f"{command[0]} exited with {done.returncode}: {errors[0] if errors else ''}")
        os.replace(tmp, target)  # atomic: concurrent processes each build, the last one wins
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load() -> Tuple[Any, str]:
    if os.environ.get("TRITONCOMPAT_ACCEL", "1").strip().lower() in ("0", "false", "no", "off", "n"):
        return None, "off (TRITONCOMPAT_ACCEL=0)"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None, "off (free-threaded Python)"
    if sys.implementation.name != "cpython":
        return None, f"off ({sys.implementation.name})"
    try:
        with open(SOURCE, "rb") as f:
            source = f.read()
    except OSError as exc:
        return None, f"off (no source: {exc})"
    tag = hashlib.sha256(source + sys.version.encode() + sys.executable.encode()).hexdigest()[:16]
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    target = os.path.join(_cache_dir(), f"accel-{tag}{suffix}")
    try:
        if not os.path.exists(target):
            cc = _compiler()
            if cc is None:
                return None, "off (no C compiler: set CC)"
            _build(cc, target)
        loader = importlib.machinery.ExtensionFileLoader("tritoncompat._accel_c", target)
        spec = importlib.util.spec_from_file_location("tritoncompat._accel_c", target, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except Exception as exc:  # never break a launch: stay in Python, say why
        return None, f"off (build failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return module, f"on ({target})"


def load() -> Any:
    """The compiled module (built on first call), or None when the accelerator is off."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load()
    return _loaded[0]


def state() -> str:
    """``"on (<path>)"`` or ``"off (<reason>)"``; ``"not loaded"`` before the first launch."""
    return "not loaded" if _loaded is None else _loaded[1]


def reset() -> None:
    """Forget the loaded module so the next :func:`load` re-reads ``TRITONCOMPAT_ACCEL`` (tests)."""
    global _loaded
    with _lock:
        _loaded = None
