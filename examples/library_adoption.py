"""A kernel library that uses tritoncompat when it is installed, Triton's own launch when not.

The top half is the library (what a package such as ``mykernels/ops.py`` holds); the bottom half
is an application calling it. Declare tritoncompat as an optional dependency, bounded to the
minor series you tested::

    # pyproject.toml of the library
    [project.optional-dependencies]
    fast = ["tritoncompat>=0.1,<0.2"]

Run it both ways (without a GPU the launches go to tritoncompat's fake CUDA driver; it says so)::

    python examples/library_adoption.py                          # tritoncompat installed
    python examples/library_adoption.py --without-tritoncompat   # as if it were not
"""

import sys

import torch

GPU = torch.cuda.is_available()
if not GPU:
    from tritoncompat.testing import FakeCuda  # before any kernel is defined (Triton 2.1)

    FakeCuda().install()
if "--without-tritoncompat" in sys.argv:
    sys.modules["tritoncompat"] = None  # `import tritoncompat` now raises ImportError, as when absent

# ---- the library ------------------------------------------------------------------------------
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

try:  # the optional dependency: faster launches, the same kernels and results
    from tritoncompat import launch as _launch
except ImportError:
    def _launch(kernel, grid, *args, **kwargs):
        """Triton's own launch: what the library did before tritoncompat."""
        return kernel[grid](*args, **kwargs)


@triton.jit
def _axpy_kernel(x_ptr, y_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, alpha * x + tl.load(y_ptr + offs, mask=mask), mask=mask)


def axpy(alpha, x, y):
    """``alpha * x + y``, one kernel launch. The library calls ``_launch`` where it used to write
    ``_axpy_kernel[grid](...)``; it never calls ``tritoncompat.patch()``, which changes every
    kernel in the process and is the application's decision."""
    out = torch.empty_like(x)
    n = x.numel()
    _launch(_axpy_kernel, (triton.cdiv(n, 1024),), x, y, out, n, alpha, BLOCK=1024)
    return out


# ---- the application --------------------------------------------------------------------------
def main():
    device = "cuda" if GPU else "cpu"
    x, y = torch.randn(10_000, device=device), torch.randn(10_000, device=device)
    for _ in range(3):
        out = axpy(2.0, x, y)
    through = ("tritoncompat.launch" if _launch.__module__ != __name__
               else "kernel[grid](...), Triton's own launch (tritoncompat is not installed)")
    print(f"axpy launched 3 times through {through}")
    if GPU:
        torch.testing.assert_close(out, 2.0 * x + y)
        print("result checked on", torch.cuda.get_device_name())
    else:
        print("no CUDA GPU here: the launches went to tritoncompat's fake CUDA driver (nothing computed)")
    if _launch.__module__ != __name__:
        import tritoncompat

        info = tritoncompat.cache_info(_axpy_kernel)
        print(f"tritoncompat: {info.hits} fast-path hits, {info.misses} miss (the first launch)")


if __name__ == "__main__":
    main()
