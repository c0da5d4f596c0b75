"""The house: imports run one way, floor by floor, and no function-local import dodges a cycle
(README, "How it is built"). Read from the source with ``ast``: no Triton needed."""

import ast
import os
import subprocess
import sys

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tritoncompat")

# Function-local imports of the package's own modules that exist for a reason other than a cycle:
# the modules they import load Triton and torch, which `python -m tritoncompat report` and the
# report/selection code must not need.
LAZY = {("__main__", "testing"), ("__main__", "_bench"), ("_bench", "testing")}

# The floors of the README's drawing, lowest first: a module imports only from lower floors.
FLOORS = [
    {"_errors", "_version", "_codegen", "_placement", "_known", "_migrate"},
    {"_config", "_doctor"},
    {"_accel", "_slot", "_cache", "_compat"},
    {"backends._direct"},
    {"_select", "backends", "backends._common"},
    {"backends._v2", "backends.v3_0", "backends.v3_3"},
    {"backends.v2_1", "backends.v2_2", "backends.v2_3"},
    {"_autotune"},
    {"_launch"},
    {"_patch"},
    {"__init__"},
    {"testing.fake_libcuda"},
    {"testing.fake", "_decode"},
    {"testing", "_bench", "__main__"},
    # tritoncompat.language stands apart: it imports Triton and itself, never the launch machinery
    {"language._source"},
    {"language._block_ptr", "language._libdevice_impl", "language._libdevice_names", "language._missing"},
    {"language.native", "language.emulated", "language.libdevice", "language._descriptor"},
    {"language"},
]


def _modules():
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, name), PACKAGE)[:-3].replace(os.sep, ".")
                yield rel.replace(".__init__", "") if rel.endswith(".__init__") else rel, os.path.join(root, name)


def _imports(module, path):
    """(imported module, top level?) for every import of a tritoncompat module in ``path``."""
    tree = ast.parse(open(path).read())
    package = [module] if module in ("backends", "testing", "language") else module.split(".")[:-1]
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            names = ([".".join(base + node.module.split("."))] if node.module
                     else [".".join(base + [a.name]) for a in node.names])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tritoncompat":
            names = [node.module.partition(".")[2]]
        elif isinstance(node, ast.Import):
            names = [a.name.partition(".")[2] for a in node.names if a.name.split(".")[0] == "tritoncompat"]
        else:
            continue
        for name in names:
            # a name of the package's __init__ (``from . import __version__``) or the package itself
            if not name or name not in MODULES:
                name = "__init__"
            found.append((name, id(node) in top))
    return found


MODULES = {name for name, _ in _modules()} | {"__init__"}


def _floor(module):
    for level, members in enumerate(FLOORS):
        if module in members:
            return level
    raise AssertionError(f"{module} is on no floor of the drawing: add it to FLOORS and the README")


def test_imports_run_one_way_floor_by_floor():
    for module, path in _modules():
        for imported, top_level in _imports(module, path):
            if not top_level:
                assert (module, imported) in LAZY, f"{module} imports {imported} inside a function"
                continue
            assert _floor(imported) < _floor(module) or (module, imported) in LAZY, \
                f"{module} (floor {_floor(module)}) imports {imported} (floor {_floor(imported)})"


def test_backends_never_import_launch_select_or_each_other():
    for module, path in _modules():
        if not module.startswith("backends."):
            continue
        for imported, _ in _imports(module, path):
            assert imported not in ("_launch", "_select", "_patch", "_autotune"), (module, imported)
            if imported.startswith("backends.v"):
                pytest.fail(f"{module} imports another backend, {imported}")


def test_importing_the_name_launch_imports_no_triton_nor_torch():
    # `from tritoncompat import launch` resolves the C dispatcher: it loads (the first time on a
    # machine, builds) the accelerator, and never imports Triton or torch (README, API).
    code = ("import sys; from tritoncompat import launch; "
            "print(type(launch).__name__, sorted(m for m in ('triton', 'torch') if m in sys.modules))")
    for accel, expected in (("1", None), ("0", "function")):
        env = dict(os.environ, TRITONCOMPAT_ACCEL=accel)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        kind, loaded = out.stdout.split(" ", 1)
        assert loaded.strip() == "[]", out.stdout
        assert kind == (expected or kind) and kind in ("Launch", "function"), out.stdout


def test_accelerator_roles_are_the_c_enums():
    # The accelerator fills the launcher call by role: Python hands it each role's position in the
    # layout, in the order of _accel.c's CALL_* / ENTRY_* enums. The two orders must be one.
    import re

    from tritoncompat.backends._common import ACCEL_CALL_ROLES, ACCEL_ENTRY_ROLES, LAYOUT_3X

    source = open(os.path.join(PACKAGE, "_accel.c")).read()
    for prefix, roles, layout in (("CALL", ACCEL_CALL_ROLES, LAYOUT_3X.call), ("ENTRY", ACCEL_ENTRY_ROLES, LAYOUT_3X.entry)):
        body = re.search(r"enum \{\s*(%s_\w+(?:,\s*%s_\w+)*)\s*\};" % (prefix, prefix), source).group(1)
        names = [name.strip() for name in body.split(",")]
        assert names == [f"{prefix}_{role.upper()}" for role in roles] + [f"{prefix}_ROLES"]
        assert sorted(roles) == sorted(layout)  # every role the layout has, and no other


def test_the_language_imports_nothing_of_the_launch_machinery():
    # tritoncompat.language runs inside kernels: a kernel package may use it without the fast path
    for module, path in _modules():
        if module == "language" or module.startswith("language."):
            for imported, _ in _imports(module, path):
                assert imported == "language" or imported.startswith("language."), (module, imported)
