"""``python -m tritoncompat doctor``: what tritoncompat models of the installed Triton, and whether
it still matches.

Two kinds of evidence, recorded for every known release in :mod:`tritoncompat._known` (generated
by ``matrix/doctor_table.py`` from each release's wheel) and examined here on the installed one:

* **fingerprints**: the sha256 of the source of each Triton function and class the fast path
  depends on (the binder, ``run``, ``__getitem__``, the key, the hooks, the driver module, the
  launcher and ``driver.c``), read from the files with ``ast``, so a patched attribute (ours
  included) does not hide the file's code. A vendor build that renames the package
  (``tokenspeed_triton``) is read with the vendor's name replaced by ``triton``.
* **probes**: a fixed table of values put through Triton's own specialization (3.6+:
  ``native_specialize_impl``, C++ and invisible to any source hash; 3.3-3.5: ``specialize_impl``;
  3.0-3.2: ``mangle_type`` and ``compute_spec_key``; 2.x: ``JITFunction._key_of`` / ``_spec_of``).

The verdict compares them with the known releases: identical on every point to one of them, or
exactly which function and which probe differ. An unknown release may be served by the backend of
the release it is identical to only on the points of the ``jit`` group and every probe
(:func:`trusted`, with ``TRITONCOMPAT_TRUST_UNKNOWN=1``); a ``launcher`` difference leaves the
own launch off, which ``backends/_direct.py`` decides by its own fingerprint.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import sys
import textwrap
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _known, _version

__all__ = ["POINTS", "Diagnosis", "examine", "diagnose", "trusted", "main"]

# (group, module, qualified name): a function or class of the module's file; "@name": a file
# beside the module; None: the whole module. ``jit`` is what the generated launchers, the key and
# the hooks model (a difference keeps Triton's own path); ``launcher`` is what the own launch
# models (a difference keeps Triton's launcher). A point a release does not have is recorded
# as absent (None).
POINTS: Tuple[Tuple[str, str, Optional[str]], ...] = (
    ("jit", "triton.runtime.jit", "JITFunction.run"),
    ("jit", "triton.runtime.jit", "JITFunction.__init__"),
    ("jit", "triton.runtime.jit", "JITFunction.create_binder"),        # 3.0+
    ("jit", "triton.runtime.jit", "JITFunction._pack_args"),            # 3.5+
    ("jit", "triton.runtime.jit", "JITFunction._do_compile"),           # 3.5+
    ("jit", "triton.runtime.jit", "JITFunction._make_launcher"),        # 2.1
    ("jit", "triton.runtime.jit", "JITFunction._get_config"),           # 2.x - 3.2
    ("jit", "triton.runtime.jit", "JITFunction._key_of"),               # 2.x - 3.0
    ("jit", "triton.runtime.jit", "JITFunction._spec_of"),              # 2.x - 3.0
    ("jit", "triton.runtime.jit", "create_function_from_signature"),    # 3.0+
    ("jit", "triton.runtime.jit", "create_specialize_impl"),            # 3.3 - 3.5
    ("jit", "triton.runtime.jit", "mangle_type"),                       # 3.0+
    ("jit", "triton.runtime.jit", "compute_spec_key"),                  # 3.0 - 3.2
    ("jit", "triton.runtime.jit", "compute_cache_key"),                 # 3.5+
    ("jit", "triton.runtime.jit", "KernelInterface.__getitem__"),
    ("jit", "triton.runtime.jit", "KernelParam"),                       # 2.2+
    ("jit", "triton.runtime.autotuner", "Autotuner.run"),
    ("jit", "triton.runtime.autotuner", "Heuristics.run"),
    ("jit", "triton.runtime.autotuner", "Config"),
    ("jit", "triton.compiler.compiler", "CompiledKernel.__init__"),
    ("jit", "triton.compiler.compiler", "CompiledKernel.launch_metadata"),  # 3.0+
    ("jit", "triton.compiler.compiler", "CompiledKernel.__getitem__"),
    ("jit", "triton.knobs", "HookChain"),                               # 3.5+
    ("jit", "triton.knobs", "runtime_knobs"),                           # 3.4+
    ("jit", "triton.runtime.driver", None),
    ("launcher", "triton.compiler.compiler", "CompiledKernel._init_handles"),
    ("launcher", "triton.compiler.compiler", "CompiledKernel.run"),     # 3.5+
    ("launcher", "triton.compiler.make_launcher", None),                # 2.x
    ("launcher", "triton.backends.nvidia.driver", "CudaLauncher"),      # 3.0+
    ("launcher", "triton.backends.nvidia.driver", "make_launcher"),     # 3.0 - 3.6
    ("launcher", "triton.backends.nvidia.driver", "ty_to_cpp"),         # 3.0+
    ("launcher", "triton.backends.nvidia.driver", "@driver.c"),         # 3.0+
)


def point_name(module: str, qualname: Optional[str]) -> str:
    """``JITFunction.run``, ``driver.c``, ``runtime/driver.py``: how the report names a point."""
    if qualname is None:
        return module.split(".", 1)[1].replace(".", "/") + ".py"
    return qualname.lstrip("@")


def _vendor() -> str:
    """The top-level name Triton's modules live under: ``triton``, or a vendor's rename."""
    triton = sys.modules.get("triton")
    return triton.__name__.split(".")[0] if triton is not None else "triton"


def _segment(source: str, qualname: str) -> Optional[str]:
    """The source lines of ``qualname`` (decorators included, dedented), or None when absent."""
    body: List[ast.stmt] = ast.parse(source).body
    node: Any = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return textwrap.dedent("\n".join(source.splitlines()[start - 1:node.end_lineno]))


def _text(module: str, qualname: Optional[str], vendor: str) -> Optional[str]:
    name = vendor + module[len("triton"):]
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:  # a parent package this release does not have (2.x: backends)
        if exc.name and (name + ".").startswith(exc.name + "."):
            return None
        raise
    if spec is None or not spec.origin or not os.path.exists(spec.origin):
        return None
    path = spec.origin
    if qualname is not None and qualname.startswith("@"):
        path = os.path.join(os.path.dirname(path), qualname[1:])
        if not os.path.exists(path):
            return None
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if vendor != "triton":  # a vendor's rename: compare the code, not the package's name
        source = source.replace(vendor, "triton")
    if qualname is None or qualname.startswith("@"):
        return source
    return _segment(source, qualname)


def fingerprints() -> Dict[str, Optional[str]]:
    """``{point: sha256 (16 hex digits) of its source, or None when absent}`` for the installed
    Triton; ``"error: ..."`` where it could not be read."""
    vendor = _vendor()
    out: Dict[str, Optional[str]] = {}
    for _, module, qualname in POINTS:
        name = point_name(module, qualname)
        try:
            text = _text(module, qualname, vendor)
        except Exception as exc:  # a module that fails to import, a file that does not parse
            out[name] = f"error: {type(exc).__name__}"
            continue
        out[name] = None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


class _Ptr:
    """A pointer argument as Triton's specialization sees a tensor: ``data_ptr()`` and a
    ``dtype`` whose ``str()`` ends with the element type's name (no torch needed)."""

    def __init__(self, address: int, dtype: str) -> None:
        self.address, self.dtype = address, dtype

    def data_ptr(self) -> int:
        return self.address

    def __repr__(self) -> str:
        return f"Ptr({self.address:#x}, {self.dtype})"


def _probe_values() -> List[Tuple[str, Any]]:
    from collections import namedtuple

    plain = namedtuple("plain", "a b c")
    unspecialized = namedtuple("unspecialized", "a b c")
    unspecialized.__triton_do_not_specialize__ = ("a", "c")  # honoured by Triton's main (3.10)
    values: List[Tuple[str, Any]] = [
        (f"int {v}", v) for v in (0, 1, -1, 2, 16, 17, 48, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**32,
                                  2**63 - 1, 2**63, 2**64 - 1, 2**64)]
    values += [("bool True", True), ("bool False", False), ("None", None)]
    values += [(f"float {v!r}", v) for v in (1.0, 0.0, -0.0, 1.5, float("inf"))]
    values += [(f"pointer {dtype} {'aligned' if address % 16 == 0 else 'unaligned'}", _Ptr(address, dtype))
               for dtype, address in (("float32", 0x10000), ("float32", 0x10004), ("float16", 0x10010),
                                      ("bfloat16", 0x10020), ("float64", 0x10030), ("int8", 0x10041),
                                      ("int32", 0x10050), ("int64", 0x10060), ("uint8", 0x10070),
                                      ("bool", 0x10080), ("float8_e4m3fn", 0x10090), ("float8_e5m2", 0x100a0),
                                      ("float8_e8m0fnu", 0x100b0), ("float4_e2m1fn_x2", 0x100c0))]
    values += [("tuple (1, 16)", (1, 16)), ("tuple (pointer, 3)", (_Ptr(0x10000, "float32"), 3)),
               ("namedtuple (1, 1, 1)", plain(1, 1, 1)),
               ("namedtuple with __triton_do_not_specialize__ (1, 1, 1)", unspecialized(1, 1, 1)),
               ("str 'abc'", "abc")]
    try:
        from triton.language import constexpr
    except Exception:  # a Triton without triton.language.constexpr is reported by its probes' errors
        constexpr = None
    if constexpr is not None:
        values.append(("constexpr 5", constexpr(5)))
    return values


def _result(call: Any) -> str:
    try:
        return repr(call())
    except Exception as exc:  # the exception is the result (3.9.0: KeyError for an e8m0 pointer)
        return f"raises {type(exc).__name__}"


def _specializer() -> Tuple[str, Any]:
    """``(name, probe(value) -> str)``: the specialization the installed Triton keys on."""
    from triton.runtime import jit

    native = getattr(jit, "native_specialize_impl", None)
    if native is not None:  # 3.6+: C++
        from triton.backends.compiler import BaseBackend

        def probe(v: Any) -> str:
            return " | ".join(_result(lambda mode=mode: native(BaseBackend, v, *mode))
                              for mode in ((False, True, True), (False, True, False), (False, False, True),
                                           (True, True, True)))
        return "native_specialize_impl", probe
    create = getattr(jit, "create_specialize_impl", None)
    if create is not None:  # 3.3 - 3.5
        import inspect

        from triton.backends.compiler import BaseBackend

        extra = BaseBackend.get_arg_specialization
        if inspect.signature(create).parameters:  # 3.4+: the backend's hook bound at creation
            impl = create(extra)
            call = lambda v, mode: impl(v, *mode)  # noqa: E731
        else:  # 3.3: passed per call
            impl = create()
            call = lambda v, mode: impl(v, extra, *mode)  # noqa: E731

        def probe(v: Any) -> str:
            return " | ".join(_result(lambda mode=mode: call(v, mode))
                              for mode in ((False, True, True), (False, True, False), (False, False, True),
                                           (True, True, True)))
        return "specialize_impl", probe
    spec_key = getattr(jit, "compute_spec_key", None)
    if spec_key is not None:  # 3.0 - 3.2: the binder's type and specialization letters
        import inspect

        aligned = len(inspect.signature(spec_key).parameters) > 1  # 3.2: compute_spec_key(v, align)

        def probe(v: Any) -> str:
            keys = [_result(lambda: spec_key(v, True)), _result(lambda: spec_key(v, False))] if aligned \
                else [_result(lambda: spec_key(v))]
            return " | ".join([_result(lambda: jit.mangle_type(v)), _result(lambda: jit.mangle_type(v, True))] + keys)
        return "mangle_type + compute_spec_key", probe
    function = jit.JITFunction  # 2.x

    def probe(v: Any) -> str:
        return f"{_result(lambda: function._key_of(v))} | {_result(lambda: function._spec_of(v))}"
    return "JITFunction._key_of + _spec_of", probe


def probes() -> Tuple[str, Dict[str, str]]:
    """``(specializer, {probe: result})`` through the installed Triton's own specialization."""
    name, probe = _specializer()
    return name, {label: probe(value) for label, value in _probe_values()}


def examine() -> Dict[str, Any]:
    """Everything the verdict compares, for the installed Triton (JSON-serialisable: the known
    releases' entries in :mod:`tritoncompat._known` are this, recorded)."""
    import triton

    try:
        specializer, results = probes()
    except Exception as exc:  # the probe machinery itself is gone: every probe differs
        specializer, results = f"error: {type(exc).__name__}: {exc}", {}
    dist = _version.distribution()
    return {"version": str(getattr(triton, "__version__", "?")), "module": triton.__name__,
            "distribution": list(dist) if dist else None,
            "fingerprints": fingerprints(), "specializer": specializer, "probes": results}


class Diagnosis(NamedTuple):
    """What :func:`diagnose` found. ``closest``: the known release with the fewest differences
    (the newest on a tie); ``jit`` / ``launcher`` / ``probes``: what differs from it (names of
    points, labels of probes); ``verdict``: one line."""

    version: Optional[str]
    distribution: Optional[Tuple[str, str]]
    known: bool
    closest: Optional[str]
    backend: Optional[str]
    jit: Tuple[str, ...]
    launcher: Tuple[str, ...]
    probes: Tuple[str, ...]
    verdict: str

    @property
    def identical(self) -> bool:
        """Identical to ``closest`` on every point and probe."""
        return self.closest is not None and not (self.jit or self.launcher or self.probes)


def _differences(found: Dict[str, Any], known: Dict[str, Any]) -> Tuple[List[str], List[str], List[str]]:
    groups = {point_name(m, q): g for g, m, q in POINTS}
    jit, launcher = [], []
    for name, group in groups.items():
        if found["fingerprints"].get(name) != known["fingerprints"].get(name):
            (jit if group == "jit" else launcher).append(name)
    probes = [label for label in known["probes"] if found["probes"].get(label) != known["probes"][label]]
    probes += [label for label in found["probes"] if label not in known["probes"]]
    if found["specializer"] != known["specializer"]:
        probes.insert(0, f"specializer ({found['specializer']})")
    return jit, launcher, probes


def _describe(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def diagnose(found: Optional[Dict[str, Any]] = None, table: Optional[Dict[str, Dict[str, Any]]] = None,
             detected: Optional[_version.Detected] = None) -> Diagnosis:
    """The verdict on the installed Triton (or on ``found``, an :func:`examine` result, against
    ``table``, the known releases). Never raises for what it finds: a dev build, a pre-release, a
    local build or a vendor rename is reported as what it is."""
    table = _known.KNOWN if table is None else table
    if detected is None:
        detected = _version.detect() if found is None else _version.backend_for(found["version"])
    if found is None:
        found = examine()
    dist = tuple(found["distribution"]) if found.get("distribution") else None
    what = f"triton {found['version']}"
    if dist is not None and (dist[0] != "triton" or dist[1] != found["version"]):
        what += f" ({dist[0]} {dist[1]}"
        what += f", package {found['module']})" if found.get("module", "triton") != "triton" else ")"
    if not table:
        return Diagnosis(found["version"], dist, detected.release is not None, None, None, (), (), (),
                         f"{what}: no known release recorded")
    scored = []
    for release, known in table.items():
        jit, launcher, probes = _differences(found, known)
        scored.append((len(jit) + len(probes), len(launcher), _version.release_key(release), release,
                       jit, launcher, probes))
    # fewest differences of the jit group and probes, then of the launcher, then the newest release
    scored.sort(key=lambda s: (s[0], s[1], tuple(-p for p in s[2])))
    _, _, _, closest, jit, launcher, probes = scored[0]
    if detected.release is not None:
        head = f"{what}: known release {detected.release}, served by {detected.backend}"
        if detected.release in table:
            jit, launcher, probes = _differences(found, table[detected.release])
            closest = detected.release
    else:
        version = dist[1] if dist is not None else found["version"]
        kind = ("a vendor build" if found.get("module", "triton") != "triton" else
                "a pre-release" if _is(version, "pre") else
                "a dev build" if _is(version, "dev") else
                "a post-release" if _is(version, "post") else
                "a local build" if _is(version, "local") else "an unknown release")
        head = f"{what}: {kind}, not in the table"
    backend = _version.RELEASES.get(closest)
    if not (jit or launcher or probes):
        tail = f"identical to {closest} on every point"
        if detected.release is None:
            tail += f"; served by {backend} with TRITONCOMPAT_TRUST_UNKNOWN=1, else Triton's own path"
    elif not (jit or probes):
        tail = (f"identical to {closest} on every point of the JIT path and every probe; the launcher "
                f"differs ({_describe(launcher)}): the own launch stays off")
        if detected.release is None:
            tail += f"; served by {backend} with TRITONCOMPAT_TRUST_UNKNOWN=1, else Triton's own path"
    else:
        parts = []
        if jit:
            parts.append(f"changed: {_describe(jit)}")
        if probes:
            parts.append(f"specialization differs on {len(probes)} probe(s): {_describe(probes, 3)}")
        if launcher:
            parts.append(f"launcher differs: {_describe(launcher)}")
        tail = f"closest known release {closest}; " + "; ".join(parts)
        if detected.release is None:
            tail += "; Triton's own path (TRITONCOMPAT_BACKEND=<name> forces a backend)"
    if detected.release is None and detected.backend is not None:  # TRITONCOMPAT_BACKEND decides, whatever this says
        tail = tail.rsplit("; ", 1)[0] + f"; served by {detected.backend}, forced by TRITONCOMPAT_BACKEND"
    return Diagnosis(found["version"], dist, detected.release is not None, closest, backend, tuple(jit),
                     tuple(launcher), tuple(probes), f"{head}; {tail}")


def _is(version: str, part: str) -> bool:
    try:
        v = _version.parse(version)
    except ValueError:
        return False
    return getattr(v, part) is not None


def trusted(d: Diagnosis) -> bool:
    """Whether an unknown release may be served by ``d.backend`` (with TRITONCOMPAT_TRUST_UNKNOWN=1):
    identical to a known release on every point of the JIT path and every probe."""
    return d.closest is not None and d.backend is not None and not (d.jit or d.probes)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m tritoncompat doctor [--json | --record]``: the verdict, then every point that
    differs from the closest known release with both results. Exit status 0 when the installed
    Triton is identical on every point to a known release, 1 otherwise, 2 without Triton."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tritoncompat doctor",
        description="Compare the installed Triton with every release tritoncompat knows: the source of each "
                    "function the fast path models, and Triton's specialization of a fixed table of values.")
    parser.add_argument("--json", action="store_true", help="the diagnosis as JSON")
    parser.add_argument("--record", action="store_true",
                        help="what is compared, as JSON (what matrix/doctor_table.py records per release)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        found = examine()
    except ImportError as exc:
        print(f"tritoncompat doctor: Triton is not installed ({exc})")
        return 2
    if args.record:
        print(json.dumps(found, indent=1, sort_keys=True))
        return 0
    d = diagnose(found, detected=_version.detect())
    if args.json:
        print(json.dumps(d._asdict(), indent=1))
        return 0 if d.identical else 1
    print(d.verdict)
    known = _known.KNOWN.get(d.closest or "")
    if known is not None:
        for name in d.jit + d.launcher:
            print(f"  {name}: {found['fingerprints'].get(name)} (here) != {known['fingerprints'].get(name)} "
                  f"({d.closest})")
        for label in d.probes:
            print(f"  probe {label}:\n    here:  {found['probes'].get(label)}\n    {d.closest}: "
                  f"{known['probes'].get(label)}")
    return 0 if d.identical else 1
