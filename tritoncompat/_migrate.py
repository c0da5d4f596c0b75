"""``python -m tritoncompat migrate``: rewrite Triton block pointers to ``tritoncompat.language``
(a leaf: nothing of the package, no Triton).

A file that uses block pointers (``tl.make_block_ptr`` or ``tl.advance``) gets
``import tritoncompat.language as tcl`` after its ``import triton.language as tl``, and its calls
``tl.make_block_ptr``, ``tl.advance``, ``tl.load`` and ``tl.store`` become ``tcl.``'s. ``tcl.load``
and ``tcl.store`` take ordinary pointers too (they are then ``tl.load`` / ``tl.store``), so every
load and store of such a file is renamed, whatever it reads. It is a text rewrite: those four
names change in strings and comments too. A file without block pointers is left as it is; one
that reaches block pointers without ``import triton.language as tl`` is named, not guessed at.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from typing import Iterator, List, Optional, Tuple

__all__ = ["rewrite", "rewrite_files", "python_files", "main"]

_USES = re.compile(r"(?<![\w.])tl\.(?:make_block_ptr|advance)\s*\(")
_CALL = re.compile(r"(?<![\w.])tl\.(make_block_ptr|advance|load|store)(\s*\()")
_IMPORT = re.compile(r"^(?P<indent>[ \t]*)(?:import\s+triton\.language\s+as\s+tl|from\s+triton\s+import\s+language\s+as\s+tl)"
                     r"[ \t]*(?:#.*)?$", re.M)
_IMPORTED = re.compile(r"^[ \t]*import\s+tritoncompat\.language\s+as\s+tcl\b", re.M)


class NotRewritten(ValueError):
    """A file that uses block pointers but cannot be rewritten safely (the reason says why)."""


def rewrite(source: str) -> str:
    """``source`` with its block pointers on ``tritoncompat.language`` (unchanged without any)."""
    if not _USES.search(source):
        return source
    out = _CALL.sub(lambda m: f"tcl.{m.group(1)}{m.group(2)}", source)
    if not _IMPORTED.search(out):
        found = _IMPORT.search(out)
        if found is None:
            raise NotRewritten("uses tl.make_block_ptr / tl.advance but has no top-level "
                               "`import triton.language as tl` to put `import tritoncompat.language as tcl` after")
        out = out[:found.end()] + f"\n{found.group('indent')}import tritoncompat.language as tcl" + out[found.end():]
    return out


def python_files(paths: List[str]) -> Iterator[str]:
    """Each path that is a file, and the ``.py`` files under each that is a folder (hidden folders
    skipped), in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                yield from (os.path.join(folder, n) for n in sorted(names) if n.endswith(".py"))
        else:
            yield path


def rewrite_files(paths: List[str], write: bool = False) -> Tuple[List[Tuple[str, str, str]], List[Tuple[str, str]]]:
    """:func:`rewrite` over :func:`python_files`: ``(path, source, rewritten)`` of each file it
    changes (written back, once every file was read, when ``write``), and ``(path, reason)`` of each
    it could not read or rewrite."""
    changed: List[Tuple[str, str, str]] = []
    failed: List[Tuple[str, str]] = []
    for path in python_files(paths):
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            new = rewrite(source)
        except (OSError, UnicodeDecodeError, NotRewritten) as exc:
            failed.append((path, str(exc)))
            continue
        if new != source:
            changed.append((path, source, new))
    if write:
        for path, _, new in changed:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
    return changed, failed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tritoncompat migrate",
        description="Rewrite tl.make_block_ptr / tl.advance and the loads and stores of files that use them to "
                    "tritoncompat.language (tcl), which has block pointers on every Triton release 2.1 - 3.9+. "
                    "Prints a unified diff; --write changes the files.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .py file or a folder (searched for .py files)")
    parser.add_argument("--write", action="store_true", help="write the rewritten files (default: a dry run)")
    args = parser.parse_args(argv)
    changed, failed = rewrite_files(args.paths, write=args.write)
    for path, reason in failed:
        print(f"{path}: not rewritten: {reason}", file=sys.stderr)
    for path, source, new in changed:
        sys.stdout.writelines(difflib.unified_diff(source.splitlines(True), new.splitlines(True), path, path))
    verb = "rewrote" if args.write else "would rewrite (dry run; --write to change them)"
    print(f"migrate: {verb} {len(changed)} file(s)" + (f"; {len(failed)} not rewritten" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0
