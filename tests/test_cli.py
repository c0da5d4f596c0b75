"""``python -m tritoncompat``: the command line (tritoncompat/__main__.py), in fresh processes.

``run`` is compared with Python itself: the same program run by ``python SCRIPT`` / ``python -m
MODULE`` and by ``python -m tritoncompat run ...`` must see the same ``sys.argv``, ``__main__``,
``sys.path[0]`` and exit with the same code; only ``run`` has the patch in place.
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import tritoncompat
from tritoncompat import __main__ as cli
from tritoncompat import _select

# The children import the tritoncompat this process imported (tox: the installed wheel), wherever
# they run.
SITE = os.path.dirname(os.path.dirname(os.path.abspath(tritoncompat.__file__)))


def _python(*args, cwd=None, env=None):
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([SITE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_help_lists_every_command_and_exits_0():
    done = _python("-m", "tritoncompat", "--help")
    assert done.returncode == 0, done.stderr
    for name, command in cli.COMMANDS.items():
        assert name in done.stdout, (name, done.stdout)
    assert "usage: python -m tritoncompat" in done.stdout


@pytest.mark.parametrize("argv", [["bogus"], ["--bogus"], ["bench", "--bogus"], ["report", "extra"], ["run"],
                                  ["run", "--bogus", "x.py"], ["run", "-m"]])
def test_bad_command_lines_print_a_usage_line_and_exit_2(argv):
    # Before, anything unknown silently ran the full self-check.
    done = _python("-m", "tritoncompat", *argv)
    assert done.returncode == 2, (argv, done.stdout, done.stderr)
    assert done.stderr.startswith("usage: python -m tritoncompat"), done.stderr
    assert "self-check" not in done.stdout


def test_every_command_is_registered_in_one_table():
    parser = cli.parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert list(choices) == list(cli.COMMANDS)


PROGRAM = textwrap.dedent('''
    import atexit, json, os, sys
    import tritoncompat

    def _report():
        sys.stdout.write(json.dumps({
            "argv": sys.argv, "name": __name__, "path0": sys.path[0], "file": __file__,
            "main_is_me": sys.modules["__main__"].__dict__ is globals(),
            "patched": tritoncompat.is_patched(),
        }) + "\\n")
        sys.stdout.flush()

    atexit.register(lambda: print("program's atexit", flush=True))
    _report()
    if "--boom" in sys.argv:
        raise ValueError("boom from the program")
    sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
''')


def _outcome(done):
    lines = done.stdout.splitlines()
    report = json.loads(next(line for line in lines if line.startswith("{")))
    return report, lines, done.returncode


@pytest.fixture
def program(tmp_path):
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "prog.py").write_text(PROGRAM)
    (tmp_path / "elsewhere").mkdir()
    return pkg


@pytest.mark.parametrize("how", ["script", "module"])
def test_run_is_python_with_the_patch(program, how):
    args = ["--flag", "-x", "value", "7"]  # options after SCRIPT belong to the program
    if how == "script":
        cwd, target = str(program.parent / "elsewhere"), [os.path.join("..", "app", "prog.py")]
    else:
        cwd, target = str(program), ["-m", "prog"]
    plain, plain_lines, plain_rc = _outcome(_python(*target, *args, cwd=cwd))
    done = _python("-m", "tritoncompat", "run", *target, *args, cwd=cwd)
    got, lines, rc = _outcome(done)
    assert rc == plain_rc == 7, done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no (supported) Triton: said by the warning run prints
        supported = _select.backend().module is not None
    assert got.pop("patched") is supported and plain.pop("patched") is False
    assert got == plain, (got, plain)
    assert got["name"] == "__main__" and got["main_is_me"] and got["argv"][1:] == args
    assert lines[-1] == plain_lines[-1] == "program's atexit"
    assert "CacheInfo" not in done.stderr  # only with --cache-info


def test_run_prints_cache_info_at_exit_after_the_programs_own_handlers(program):
    done = _python("-m", "tritoncompat", "run", "--cache-info", str(program / "prog.py"), "3")
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[-1] == "program's atexit"
    assert done.stderr.splitlines()[-1].startswith("tritoncompat: CacheInfo(hits=0, misses=0"), done.stderr


def test_run_reports_the_programs_exception_like_python(program):
    plain = _python(str(program / "prog.py"), "--boom")
    done = _python("-m", "tritoncompat", "run", str(program / "prog.py"), "--boom")
    assert done.returncode == plain.returncode == 1
    assert done.stderr.rstrip().splitlines()[-1] == "ValueError: boom from the program"
    # the traceback starts at the program, as python's does: no runpy or tritoncompat frames
    frames = [line for line in done.stderr.splitlines() if line.lstrip().startswith('File "')]
    assert frames and all("prog.py" in line for line in frames), done.stderr


def test_run_missing_script_or_module_exits_like_python(tmp_path):
    missing = str(tmp_path / "nope.py")
    plain, done = _python(missing), _python("-m", "tritoncompat", "run", missing)
    assert done.returncode == plain.returncode == 2 and "can't open file" in done.stderr
    plain, done = _python("-m", "nope_module_x"), _python("-m", "tritoncompat", "run", "-m", "nope_module_x")
    assert done.returncode == plain.returncode == 1 and "No module named nope_module_x" in done.stderr


def test_bench_plot_without_matplotlib_says_how_to_get_it(tmp_path):
    # matplotlib is optional: without it, --plot stops before the benchmark runs, with a message.
    code = ("import sys; sys.modules['matplotlib'] = None; from tritoncompat.__main__ import main; "
            f"sys.exit(main(['bench', '--fake', '--plot', {str(tmp_path / 'b.png')!r}]))")
    done = _python("-c", code)
    assert done.returncode == 2, done.stderr
    assert "needs matplotlib" in done.stderr and "pip install matplotlib" in done.stderr, done.stderr
    assert done.stdout == "" and not (tmp_path / "b.png").exists()


@pytest.mark.triton
def test_bench_plot_draws_the_table(tmp_path):
    # tox installs matplotlib in t390 only: the picture is drawn from a real `bench --fake` run.
    pytest.importorskip("matplotlib", reason="matplotlib is optional (tox: t390 has it)")
    pytest.importorskip("torch", reason="the benchmark needs torch")
    png = tmp_path / "bench.png"
    done = _python("-m", "tritoncompat", "bench", "--fake", "--plot", str(png))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "7 args" in done.stdout and f"wrote {png}" in done.stdout
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_has_a_panel_per_kernel_and_a_bar_per_column(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is optional (tox: t390 has it)")
    import matplotlib.pyplot as plt

    timings = {n: {"median_us": float(i + 1), "min_us": float(i)} for i, n in enumerate(cli.PLOT_COLUMNS)}
    results = {"machine": "test", "triton": "x", "torch": "y",
               "cases": {"7 args": {"timings": timings}, "24 args": {"timings": dict(timings, checked={})}}}
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    cli.plot(results, str(tmp_path / "b.png"))
    axes = figures[0].axes
    assert [ax.get_title() for ax in axes] == ["7 args", "24 args"]
    for ax in axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == list(cli.PLOT_COLUMNS)
        assert [round(p.get_height()) for p in ax.patches] == [1, 2, 3, 4, 5]
    assert matplotlib.get_backend().lower() == "agg"
