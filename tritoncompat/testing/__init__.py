"""Test machinery of tritoncompat, for its suite, its CPU self-check and benchmark, and for
clients' own CPU tests: a fake CUDA driver under which Triton compiles for real and stops at the
compiled kernel's launcher (:class:`FakeCuda`), and Triton's interpreter in a subprocess.

Nothing in the library's launch path imports this package; it imports Triton and torch.
"""

from .fake import (INTERPRETER_PRELUDE, TRITON_VERSION, FakeCuda, interpreter_available, interpreter_problem,
                   run_interpreter_snippet)

__all__ = ["FakeCuda", "TRITON_VERSION", "INTERPRETER_PRELUDE", "interpreter_problem", "interpreter_available",
           "run_interpreter_snippet", "error_messages"]


def error_messages(error: BaseException) -> str:
    """The messages of an exception and of its causes, one per line: a compile error's reason
    (Triton 3.0 - 3.2's ``CompilationError`` shows only the source; the reason is in its cause)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(messages)
