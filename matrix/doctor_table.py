"""Write tritoncompat/_known.json (read by tritoncompat/_known.py): what ``python -m tritoncompat doctor`` compares with, recorded from
each known release's own wheel (``tritoncompat._doctor.examine()`` run against it).

    python matrix/doctor_table.py              every release of tritoncompat/_version.py's table
    python matrix/doctor_table.py 3.10.0       add or refresh these releases, keep the others
    python matrix/doctor_table.py --check      exit 1 when the committed table differs from a fresh one
    python matrix/doctor_table.py --verdicts   `python -m tritoncompat doctor` on each release's wheel

Each release's wheel is downloaded once into wheels/ (gitignored) and unpacked into a temporary
folder for the examination (a wheel is a zip; ~1 GB unpacked, removed after). What Triton's
import needs (2.2 imports torch; filelock, numpy<2, setuptools) is installed once into a virtual
environment, wheels/doctor-venv (this Python: 3.11, as the matrix), which has no Triton: each
release is examined in a fresh interpreter of it with the unpacked wheel first on sys.path, so the
committed table does not depend on what is installed here.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "wheels"
TABLE = ROOT / "tritoncompat" / "_known.json"
sys.path.insert(0, str(ROOT))

from tritoncompat import _version  # noqa: E402

def _pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def _wheel(release):
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    found = sorted(p for p in WHEELS.glob(f"triton-{release}-*.whl") if f"-{tag}-" in p.name)  # 2.1.0: build tag
    if not found:
        _pip("download", "--no-deps", "--only-binary", ":all:", "-d", str(WHEELS), f"triton=={release}")
        found = sorted(p for p in WHEELS.glob(f"triton-{release}-*.whl") if f"-{tag}-" in p.name)
    return found[-1]


def _python():
    venv = WHEELS / "doctor-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install", "torch==2.13.0+cpu",
                        "filelock", "numpy<2", "packaging", "setuptools"], check=True)
    return python


def examine(release, verdict=False):
    wheel, python = _wheel(release), _python()
    code = ("import json, sys; from tritoncompat import _doctor; "
            + ("sys.exit(_doctor.main([]))" if verdict else "print(json.dumps(_doctor.examine(), sort_keys=True))"))
    target = tempfile.mkdtemp(prefix=f"triton-{release}-", dir=WHEELS)
    try:
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():  # as pip installs it: ptxas & co. stay executable
                path = z.extract(info, target)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    os.chmod(path, mode)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([target, str(ROOT)]), PYTHONNOUSERSITE="1",
                   TRITON_DEFAULT_FP_FUSION="1")
        out = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    if verdict:
        return out.stdout + out.stderr
    if out.returncode:
        raise SystemExit(f"triton {release}: examine() failed\n{out.stderr}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if found["version"] != release:
        raise SystemExit(f"{wheel.name} holds triton {found['version']}")
    return found


def render(table):
    ordered = {release: table[release] for release in sorted(table, key=_version.release_key)}
    return json.dumps(ordered, indent=1) + "\n"


def main(argv):
    check = "--check" in argv
    releases = [a for a in argv if not a.startswith("--")]
    if "--verdicts" in argv:
        for release in releases or list(_version.RELEASES):
            print(examine(release, verdict=True), end="", flush=True)
        return 0
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    for release in releases or list(_version.RELEASES):
        print(f"triton {release} ...", file=sys.stderr)
        table[release] = examine(release)
    text = render(table)
    if check:
        if TABLE.read_text() != text:
            print("tritoncompat/_known.json differs from the releases' wheels: run python matrix/doctor_table.py")
            return 1
        return 0
    TABLE.write_text(text)
    print(f"wrote {TABLE.relative_to(ROOT)}: {', '.join(sorted(table, key=_version.release_key))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
