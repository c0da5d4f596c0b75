"""Test machinery of tritoncompat, for its suite, its CPU self-check and benchmark, and for
clients' own CPU tests: a fake CUDA driver under which Triton compiles for real and stops at the
compiled kernel's launcher (:class:`FakeCuda`), and Triton's interpreter in a subprocess.

Nothing in the library's launch path imports this package; it imports Triton and torch.
"""

from .fake import (INTERPRETER_PRELUDE, TRITON_VERSION, FakeCuda, interpreter_available, interpreter_problem,
                   run_interpreter_snippet)

__all__ = ["FakeCuda", "TRITON_VERSION", "INTERPRETER_PRELUDE", "interpreter_problem", "interpreter_available",
           "run_interpreter_snippet"]
