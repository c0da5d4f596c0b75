"""A function a release lacks, as a ``@triton.jit`` function that fails the compile of any kernel
calling it with ``message`` (``tl.static_assert``). Being a JITFunction, every release's compiler
accepts the call and reaches the assertion (2.x refuses a call to a non-Triton function before
compiling anything, with its own message); the interpreter, which has no compile, gets a plain
function that raises ``NotImplementedError`` (as the interpreter does for what it lacks). Imports
Triton only, like the whole of ``tritoncompat.language``."""
import triton
import triton.language as tl

from ._source import define


def missing(name: str, params: str, message: str, module: str, interpreting: bool = False):
    """``params``: the parameter list (``"arg0, arg1"``); ``module``: the ``__name__`` the
    function reports (an imported module: 2.x looks its globals up there)."""
    if interpreting:
        def raises(*args, **kwargs):
            raise NotImplementedError(message)
        raises.__name__ = raises.__qualname__ = name
        return raises
    source = f"def {name}({params}):\n    tl.static_assert(False, {message!r})\n"
    namespace = define(source, f"<tritoncompat missing {module}.{name}>", {"tl": tl, "__name__": module})
    return triton.jit(namespace[name])
