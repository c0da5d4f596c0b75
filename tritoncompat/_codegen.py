"""Generated per-kernel code: compiled under a unique filename registered in ``linecache``, so
tracebacks show the generated line and ``inspect.getsource()`` works (attrs / dataclasses style).
"""

from __future__ import annotations

import itertools
import keyword
import linecache
from typing import Any, Callable, Dict, List

__all__ = ["PREFIX", "make_function", "safe_param_names"]

# Every name the generated code binds starts with this prefix; a kernel whose parameter names
# use it is not generated for (it goes native, counted).
PREFIX = "_tc_"

_serial = itertools.count()


def safe_param_names(names: List[str]) -> bool:
    """True when the kernel's parameter names cannot clash with generated names."""
    return all(n.isidentifier() and not keyword.iskeyword(n) and not n.startswith(PREFIX) for n in names)


def make_function(name: str, lines: List[str], namespace: Dict[str, Any], tag: str) -> Callable:
    """Compile ``lines`` (one ``def``) and return the function named ``name``.

    ``namespace`` holds the constants the code refers to (they become module globals of the
    generated code). ``tag`` names the source in tracebacks: ``<tritoncompat {tag} #N>``.
    """
    source = "\n".join(lines) + "\n"
    filename = f"<tritoncompat {tag} #{next(_serial)}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    return namespace[name]
