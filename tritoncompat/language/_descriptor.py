"""Language functions that appeared in a release, importable on all of them:

* ``tcl.make_tensor_descriptor(base, shape, strides, block_shape)``: ``tl.make_tensor_descriptor``
  (3.4+) or ``tl._experimental_make_tensor_descriptor`` (3.3);
* ``tcl.gather(src, index, axis)``: ``tl.gather`` (3.3+).

On a release without one, a kernel that calls it fails to compile with an error naming the
release (``tritoncompat.has("tensor_descriptor")`` / ``has("gather")`` say which); a kernel that
only names it in a branch its constexprs rule out compiles, as with fla's hand-written dummies."""
import triton.language as tl

import triton

from ._missing import missing

_MISSING = {}


def _missing(name, params, message):
    if name not in _MISSING:
        _MISSING[name] = missing(name, params, message, __name__)
    return _MISSING[name]


# Looked up in triton.language on every access (tritoncompat.language's __getattr__), not bound
# once: the interpreter replaces tl's builtins with its own while a kernel runs.
def make_tensor_descriptor():
    found = getattr(tl, "make_tensor_descriptor", None)                         # 3.4+
    if found is None:
        found = getattr(tl, "_experimental_make_tensor_descriptor", None)       # 3.3
    return found or _missing(
        "make_tensor_descriptor", "base, shape, strides, block_shape",
        f"tritoncompat.language.make_tensor_descriptor: Triton {triton.__version__} has no device-side "
        "tensor descriptors (tl._experimental_make_tensor_descriptor is 3.3, tl.make_tensor_descriptor 3.4+); "
        "gate the kernel on tritoncompat.has('tensor_descriptor')")


def gather():
    return getattr(tl, "gather", None) or _missing(                             # 3.3+
        "gather", "src, index, axis",
        f"tritoncompat.language.gather: Triton {triton.__version__} has no tl.gather (3.3+); gate the "
        "kernel on tritoncompat.has('gather')")


RESOLVERS = {"make_tensor_descriptor": make_tensor_descriptor, "gather": gather}
