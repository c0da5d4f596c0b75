"""The canary's import shim: ``import triton`` (and ``triton.<anything>``) loads a vendor build
of Triton's main that renames the package (tokenspeed-triton installs ``tokenspeed_triton``).

Installed into the canary env's site-packages with ``triton_alias.pth`` (tox.ini,
``commands_pre``), so every Python of that env has it, fresh subprocesses included. The alias is
the vendor's module object itself: ``triton.runtime.jit is tokenspeed_triton.runtime.jit``, so
Triton's own ``from tokenspeed_triton...`` imports, its backend entry points (the vendor's group,
``tokenspeed_triton.backends``) and anything that patches ``triton.*`` see one set of modules.
Nothing is imported until ``triton`` is: ``import tritoncompat`` stays free of Triton.
Where it differs from a real ``triton``: ``triton.__name__`` (and every submodule's) is the
vendor's name, and the installed distribution is ``tokenspeed-triton``, not ``triton``.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

VENDOR = "tokenspeed_triton"


class TritonAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != "triton" and not name.startswith("triton."):
            return None
        try:
            real = importlib.util.find_spec(VENDOR + name[len("triton"):])
        except (ImportError, ValueError):
            return None
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(name, self, origin=real.origin,
                                              is_package=real.submodule_search_locations is not None)

    def create_module(self, spec):
        module = importlib.import_module(VENDOR + spec.name[len("triton"):])
        # what the vendor's package imported under its own name is reachable as triton.* too
        # (sys.modules["triton.runtime.driver"], as a real Triton has it after import triton)
        for loaded in [n for n in sys.modules if n.startswith(VENDOR + ".")]:
            sys.modules.setdefault("triton" + loaded[len(VENDOR):], sys.modules[loaded])
        return module

    def exec_module(self, module):
        pass  # the vendor's module is already executed


if not any(isinstance(f, TritonAlias) for f in sys.meta_path) and importlib.util.find_spec("triton") is None:
    sys.meta_path.insert(0, TritonAlias())
