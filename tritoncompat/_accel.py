"""The optional accelerator: ``_accel.c``, compiled on first use, serves the plain cache hits of
3.0 - 3.9 generated launchers in C (see the C file's header for what it does and does not do).

It is built the way Triton builds its own launchers: with the C compiler (``$CC``, split as a
shell word list as distutils and Triton split it, else ``cc`` / ``gcc`` / ``clang``) and the
Python headers, into a cache directory (``TRITONCOMPAT_CACHE_DIR``, else
``~/.cache/tritoncompat``), once per source / Python build. A machine that runs Triton on a GPU
has both, since Triton compiles its own launcher with them. Without them, or with
``TRITONCOMPAT_ACCEL=0``, every launcher stays pure Python (same results, more host time);
:func:`state` says which, and why.

Nothing found in the cache directory can crash the process: loading a shared object maps it, and
a truncated one (an interrupted copy of ``~/.cache``, a crash right after a build on a file
system that had not written it yet, a shared or network directory) kills the process with
SIGBUS at ``import``. So a build is written to a temporary file, ``fsync``-ed, renamed over the
target (atomic) and the directory ``fsync``-ed; next to it a ``.sum`` file holds its size and
SHA-256; and a file is loaded only when its bytes match its ``.sum`` and its ELF header's section
table ends where the file ends. Anything else (missing, truncated, garbage, a wrong ELF, no
``.sum``) is rebuilt, and the reason kept in :func:`state`. Processes that start together (one
per GPU rank) build once: the builder holds an ``flock`` on ``<target>.lock``; the others wait for
it (at most :data:`LOCK_WAIT` seconds, then they stay in Python) and load its build. Files are
readable by others (0644 in a 0755 directory), as Triton's own cache files are; a directory or
file of another user that cannot be used or replaced sends the build to a per-user directory
under the system's temporary directory instead of turning the accelerator off.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from typing import Any, List, Optional, Tuple

from . import _config
from ._errors import TritonCompatWarning, user_stacklevel

try:
    import fcntl
except ImportError:  # no flock (Windows): concurrent first builds each build, the renames stay atomic
    fcntl = None  # type: ignore[assignment]

__all__ = ["load", "state", "compiler", "SOURCE", "LOCK_WAIT"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_accel.c")

#: Seconds a process waits for another process's build before it stays in Python.
LOCK_WAIT = 120.0

_lock = threading.Lock()
_loaded: Optional[Tuple[Any, str]] = None  # (module or None, description)
_warned = False  # the one warning of a process whose accelerator turned itself off
_held: set = set()  # descriptors of the build's file lock, while held


def _after_fork_in_child() -> None:
    # A fork while another thread builds would leave _lock held for good in the child, and the
    # file lock too: an flock belongs to the open file, which the child's copy keeps open.
    _lock._at_fork_reinit()
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Off(Exception):
    """The accelerator cannot be built or loaded here: ``reason``, and what fixes it."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason, self.fix = reason, fix


def compiler() -> Tuple[Optional[List[str]], str]:
    """``(command words, description)`` of the C compiler: ``$CC`` split as a shell word list
    (``CC="ccache gcc"``, ``CC="gcc -O2"``), else the first of ``cc`` / ``gcc`` / ``clang`` on
    ``PATH``; ``(None, why)`` when there is none."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        try:
            words = shlex.split(cc)
        except ValueError as exc:
            return None, f"CC={cc!r} is not a shell word list ({exc})"
        if not words:
            return None, f"CC={cc!r} names no compiler"
        if shutil.which(words[0]) is None:
            return None, f"CC={cc!r}: {words[0]} not found"
        return words, f"CC={cc!r}"
    for name in ("cc", "gcc", "clang"):
        found = shutil.which(name)
        if found:
            return [found], found
    return None, "no cc, gcc or clang on PATH and CC is not set"


def _cache_dirs() -> List[str]:
    """Where to build, in order: the configured directory, then a per-user one (a shared directory
    whose files this user cannot use or replace)."""
    configured = os.environ.get("TRITONCOMPAT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tritoncompat")
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    private = os.path.join(tempfile.gettempdir(), f"tritoncompat-{uid}")
    return [configured] if os.path.abspath(configured) == private else [configured, private]


def _elf_problem(data: bytes) -> Optional[str]:
    """Why ``data`` is not a whole ELF shared object (None: its section table ends at its end)."""
    if not data:
        return "an empty file"
    if data[:4] != b"\x7fELF":
        return f"not an ELF file ({len(data)} bytes starting {data[:8]!r})"
    if len(data) < 64 or data[4] not in (1, 2) or data[5] not in (1, 2):
        return f"a truncated ELF header ({len(data)} bytes)"
    end = "<" if data[5] == 1 else ">"
    if data[4] == 2:  # 64-bit: e_shoff at 40, e_shentsize / e_shnum at 58 / 60
        shoff, = struct.unpack_from(end + "Q", data, 40)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 58)
    else:  # 32-bit: e_shoff at 32, e_shentsize / e_shnum at 46 / 48
        shoff, = struct.unpack_from(end + "I", data, 32)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 46)
    expected = shoff + shentsize * shnum
    if expected != len(data):
        return f"truncated or padded ({len(data)} bytes; its ELF header says {expected})"
    return None


def _sum_line(data: bytes) -> str:
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}\n"


def _problem(target: str) -> Optional[str]:
    """Why the file at ``target`` must not be loaded (None: it is whole, and ours)."""
    try:
        with open(target, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "not built yet"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if sys.platform.startswith("linux"):
        problem = _elf_problem(data)
        if problem is not None:
            return f"the cached build was {problem}"
    try:
        with open(target + ".sum") as f:
            recorded = f.read()
    except OSError:
        return "the cached build has no readable .sum file (size and checksum)"
    if recorded != _sum_line(data):
        return f"the cached build does not match its .sum file ({len(data)} bytes; recorded: {recorded.split()[:1]})"
    return None


def _exec(target: str) -> Any:
    loader = importlib.machinery.ExtensionFileLoader("tritoncompat._accel_c", target)
    spec = importlib.util.spec_from_file_location("tritoncompat._accel_c", target, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    if not hasattr(module, "Launch") or not hasattr(module, "Accel"):
        raise ImportError(f"{target} is not tritoncompat's accelerator")
    return module


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(path: str, data: bytes) -> str:
    """A temporary file next to ``path`` holding ``data``, mode 0644, fsync-ed; its name."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _build(cc: List[str], described: str, target: str) -> None:
    """Compile into ``target``: a temporary file, fsync-ed, renamed over it, the directory fsync-ed;
    its ``.sum`` renamed into place first (a reader that sees the new file sees its sum)."""
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise _Off(f"no Python.h in {include}", "install the Python development headers (python3-dev)")
    directory = os.path.dirname(target)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=directory) as work:
        out = os.path.join(work, "accel.so")
        command = [*cc, "-O2", "-shared", "-fPIC", "-std=c99", f"-I{include}", SOURCE, "-o", out]
        if sys.platform.startswith("linux"):
            command.append("-ldl")  # dlopen (the own launch): in libdl before glibc 2.34
        if sys.platform == "darwin":
            command[len(cc):len(cc)] = ["-undefined", "dynamic_lookup"]
        try:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except OSError as exc:
            raise _Off(f"build failed: {described} could not run: {exc}", "set CC to a working C compiler") from None
        if done.returncode != 0:
            lines = done.stdout.splitlines()
            errors = [line for line in lines if "error" in line] or lines
            raise _Off(f"build failed: {described} exited with {done.returncode}: {errors[0] if errors else ''}",
                       "set CC to a working C compiler; `python -m tritoncompat report` shows this error")
        with open(out, "rb") as f:
            data = f.read()
    so_tmp = _write_durably(target, data)
    try:
        sum_tmp = _write_durably(target, _sum_line(data).encode())
        try:
            os.replace(sum_tmp, target + ".sum")
        except BaseException:
            os.unlink(sum_tmp)
            raise
        os.replace(so_tmp, target)
    except BaseException:
        if os.path.exists(so_tmp):
            os.unlink(so_tmp)
        raise
    _fsync_dir(directory)


class _FileLock:
    """``flock`` on ``path`` for the build, waiting at most ``timeout`` seconds; ``acquired`` says
    whether it was taken (no lock can be taken where the file cannot be opened: then no one waits)."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout, self.fd, self.acquired = path, timeout, None, False

    def __enter__(self) -> "_FileLock":
        if fcntl is None:
            self.acquired = True
            return self
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)  # another user's lock file: flock needs no write
            except OSError:
                self.acquired = True  # nothing to wait on
                return self
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.acquired = True
                _held.add(self.fd)
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    return self
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            _held.discard(self.fd)
            os.close(self.fd)  # releases the flock


def _obtain(directory: str, name: str) -> Tuple[Any, str]:
    """The module built into ``directory``, building it (once among processes) if it is missing or
    bad: ``(module, description)``. Raises :class:`_Off`, or ``OSError`` for a directory this
    process cannot use."""
    target = os.path.join(directory, name)
    problem = _problem(target)
    if problem is None:
        try:
            return _exec(target), f"on ({target})"
        except ImportError as exc:
            problem = f"the cached build does not load ({exc})"
    os.makedirs(directory, mode=0o755, exist_ok=True)
    with _FileLock(target + ".lock", LOCK_WAIT) as lock:
        if not lock.acquired:
            raise _Off(f"another process's build of {target} took over {LOCK_WAIT:.0f} s",
                       "let that build finish (the next process loads it)")
        again = _problem(target)  # built by another process while this one waited
        if again is None:
            try:
                return _exec(target), f"on ({target})"
            except ImportError as exc:
                again = f"the cached build does not load ({exc})"
        cc, described = compiler()
        if cc is None:
            raise _Off(f"no C compiler: {described}", "install gcc or clang, or set CC to a C compiler")
        if not os.access(directory, os.W_OK):
            raise PermissionError(f"{directory} is not writable")
        _build(cc, described, target)
    problem_after = _problem(target)
    if problem_after is not None:
        raise _Off(f"build failed: the new build is {problem_after}", "check the file system of " + directory)
    try:
        module = _exec(target)
    except ImportError as exc:
        raise _Off(f"build failed: the new build does not load ({exc})", "set CC to another C compiler") from None
    rebuilt = "" if again == "not built yet" else f"; rebuilt: {again}"
    return module, f"on ({target}{rebuilt})"


def _load() -> Tuple[Any, str, Optional[str]]:
    """``(module or None, description, fix or None)``; a fix means the accelerator turned itself off."""
    if not _config.flag("TRITONCOMPAT_ACCEL", True):
        return None, "off (TRITONCOMPAT_ACCEL=0)", None
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None, "off (free-threaded Python)", None
    if sys.implementation.name != "cpython":
        return None, f"off ({sys.implementation.name})", None
    try:
        with open(SOURCE, "rb") as f:
            source = f.read()
    except OSError as exc:
        return None, f"off (no source: {exc})", "reinstall tritoncompat"
    tag = hashlib.sha256(source + sys.version.encode() + sys.executable.encode()).hexdigest()[:16]
    name = f"accel-{tag}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    unusable = []
    for directory in _cache_dirs():
        try:
            module, described = _obtain(directory, name)
        except _Off as off:
            return None, f"off ({off.reason})", off.fix
        except OSError as exc:  # a directory (or a file in it) of another user: try the next one
            unusable.append(f"{directory}: {exc.strerror or exc}")
            continue
        except Exception as exc:  # never break a launch: stay in Python, say why
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None, f"off (build failed: {text})", "please report this"
        if unusable:
            described = f"{described[:-1]}; not usable: {'; '.join(unusable)})"
        return module, described, None
    return None, f"off (no usable cache directory: {'; '.join(unusable)})", "set TRITONCOMPAT_CACHE_DIR to a " \
        "directory this user can write"


def load() -> Any:
    """The compiled module (built on first call), or None when the accelerator is off. The first
    time it turns itself off (no compiler, a failed build), one ``TritonCompatWarning`` says why
    and what fixes it."""
    global _loaded, _warned
    if _loaded is None:
        fix = None
        with _lock:
            if _loaded is None:
                module, described, fix = _load()
                _loaded = (module, described)
        if fix is not None and not _warned:
            _warned = True
            warnings.warn(f"tritoncompat: the compiled accelerator is {_loaded[1]}: launches stay in Python (same "
                          f"launches, more host time). Fix: {fix}; or set TRITONCOMPAT_ACCEL=0 to keep it off "
                          "without this warning.", TritonCompatWarning, stacklevel=user_stacklevel())
    return _loaded[0]


def state() -> str:
    """``"on (<path>)"`` or ``"off (<reason>)"``; ``"not loaded"`` before the first launch."""
    return "not loaded" if _loaded is None else _loaded[1]


def reset() -> None:
    """Forget the loaded module so the next :func:`load` re-reads ``TRITONCOMPAT_ACCEL`` (tests)."""
    global _loaded
    with _lock:
        _loaded = None
