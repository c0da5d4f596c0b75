"""Put the canary's import shim (triton_alias.py, triton_alias.pth) into this Python's
site-packages (tox.ini's canary env runs it after installing the vendor's wheel)."""

import shutil
import sys
import sysconfig
from pathlib import Path

here = Path(__file__).resolve().parent
site = Path(sysconfig.get_paths()["purelib"])
for name in ("triton_alias.py", "triton_alias.pth"):
    shutil.copyfile(here / name, site / name)
print(f"canary shim installed in {site} (python {sys.version.split()[0]})")
