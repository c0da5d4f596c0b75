"""``python -m tritoncompat migrate``: the block-pointer rewrite (tritoncompat/_migrate.py). Real
kernels rewritten by it are run in tests/test_language_fla.py; here, its rules and its command line
(no Triton needed)."""
import os
import subprocess
import sys
import textwrap

import pytest

from tritoncompat import _migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KERNEL = textwrap.dedent('''\
    import triton
    import triton.language as tl  # the language


    @triton.jit
    def copy(x, y, n, ptl, BLOCK: tl.constexpr):
        p = tl.make_block_ptr(x, (n,), (1,), (0,), (BLOCK,), (0,))
        q = tl.make_block_ptr (y, (n,), (1,), (0,), (BLOCK,), (0,))
        v = tl.load(p, boundary_check=(0,))
        tl.store(q, v, boundary_check=(0,))
        p = tl.advance(p, (BLOCK,))
        w = tl.load(x + tl.arange(0, BLOCK))       # an ordinary pointer: tcl.load is tl.load there
        ptl.load(w)  # not tl's
        s = "tl.load(x)"
        return tl.sum(v, 0) + mytl.load(x)
    ''')


def test_rewrite_renames_block_pointer_calls_and_every_load_and_store():
    new = _migrate.rewrite(KERNEL)
    assert new.splitlines()[1:3] == ["import triton.language as tl  # the language", "import tritoncompat.language as tcl"]
    assert new.count("tcl.make_block_ptr(") == 1 and new.count("tcl.make_block_ptr (") == 1
    assert "tcl.advance(p" in new and new.count("tcl.load(") == 3 and "tcl.store(q" in new  # one in the string
    assert "ptl.load(w)" in new and "mytl.load(x)" in new and "tl.sum(v, 0)" in new and "tl.arange" in new
    assert _migrate.rewrite(new) == new  # idempotent: the import is not added twice
    compile(new, "kernel.py", "exec")


def test_rewrite_leaves_files_without_block_pointers_alone():
    source = "import triton.language as tl\n\ndef f(x):\n    return tl.load(x)\n"
    assert _migrate.rewrite(source) == source


def test_rewrite_names_a_file_it_cannot_rewrite():
    with pytest.raises(_migrate.NotRewritten, match="import triton.language as tl"):
        _migrate.rewrite("from triton import language\n\ndef f(x):\n    return language.load(x) + tl.advance(x, (1,))\n")


def test_migrate_command_is_a_dry_run_unless_told_to_write(tmp_path):
    (tmp_path / "pkg").mkdir()
    kernel, other, bad = tmp_path / "pkg" / "k.py", tmp_path / "pkg" / "plain.py", tmp_path / "pkg" / "bad.py"
    kernel.write_text(KERNEL)
    other.write_text("import triton.language as tl\n")
    bad.write_text("x = tl.make_block_ptr\ny = tl.advance(a, b)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    dry = subprocess.run([sys.executable, "-m", "tritoncompat", "migrate", str(tmp_path / "pkg")],
                         capture_output=True, text=True, env=env)
    assert dry.returncode == 1  # bad.py
    assert "+import tritoncompat.language as tcl" in dry.stdout and str(other) not in dry.stdout
    assert f"{bad}: not rewritten" in dry.stderr and "would rewrite (dry run" in dry.stderr
    assert kernel.read_text() == KERNEL
    done = subprocess.run([sys.executable, "-m", "tritoncompat", "migrate", "--write", str(kernel)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert kernel.read_text() == _migrate.rewrite(KERNEL) != KERNEL and "rewrote 1 file" in done.stderr
