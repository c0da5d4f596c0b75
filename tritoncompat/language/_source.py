"""Python source that ``tritoncompat.language`` generates (its emulated helpers, libdevice
forwarders, functions a release lacks), run under a file name registered in ``linecache``:
Triton reads a ``@triton.jit`` function's source back with ``inspect``. A leaf: imports nothing."""
import linecache


def define(source: str, filename: str, namespace: dict) -> dict:
    """Run ``source`` in ``namespace`` as the file ``filename`` (whose lines ``linecache`` then
    holds) and return ``namespace``."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace
