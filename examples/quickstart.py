"""Quick start: one Triton kernel, launched through tritoncompat two ways.

    python examples/quickstart.py

On a machine with a CUDA GPU it computes, checks the results and times the host side of a
launch. Without a GPU it runs unchanged: Triton compiles the kernel for real and every launch
stops at tritoncompat's fake CUDA driver (``tritoncompat.testing.FakeCuda``), which records the
launch instead of running it. It says which one it did.
"""

import time

import torch

GPU = torch.cuda.is_available()
if not GPU:
    # Installed before any kernel is defined: Triton 2.1 binds the device functions into a
    # kernel when @triton.jit runs.
    from tritoncompat.testing import FakeCuda

    FakeCuda().install()

import triton  # noqa: E402
import triton.language as tl  # noqa: E402

import tritoncompat  # noqa: E402


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x + tl.load(y_ptr + offs, mask=mask), mask=mask)


def check(out, expected, what):
    if GPU:
        torch.cuda.synchronize()
        torch.testing.assert_close(out, expected)
        print(f"{what}: result checked")
    else:
        print(f"{what}: launched (fake driver: nothing computed)")


def host_us(call, repeat=2000):
    call()
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    elapsed = time.perf_counter() - start
    if GPU:
        torch.cuda.synchronize()
    return elapsed / repeat * 1e6


def main():
    device = "cuda" if GPU else "cpu"
    print(f"triton {triton.__version__}, torch {torch.__version__}, tritoncompat {tritoncompat.__version__}")
    print(f"device: {torch.cuda.get_device_name()}" if GPU else
          "device: no CUDA GPU here, so the launches go to tritoncompat's fake CUDA driver (Triton compiles "
          "for real; the launcher records instead of running)")
    n = 100_000
    x, y = torch.randn(n, device=device), torch.randn(n, device=device)
    out = torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK"]),)  # noqa: E731

    # 1. The stable call, for code you write: what kernel[grid](...) launches, faster.
    tritoncompat.launch(add_kernel, grid, x, y, out, n, BLOCK=1024)
    check(out, x + y, "tritoncompat.launch(add_kernel, grid, ...)")

    # 2. patch(): every kernel[grid](...) in the process takes the fast path, unchanged code.
    out.zero_()
    with tritoncompat.patched():
        add_kernel[grid](x, y, out, n, BLOCK=1024)
    check(out, x + y, "patched add_kernel[grid](...)")

    native = host_us(lambda: add_kernel[grid](x, y, out, n, BLOCK=1024))
    fast = host_us(lambda: tritoncompat.launch(add_kernel, grid, x, y, out, n, BLOCK=1024))
    where = "" if GPU else ", host side only (fake driver)"
    print(f"host time per launch{where}: kernel[grid] {native:.1f} us, tritoncompat.launch {fast:.1f} us")
    info = tritoncompat.cache_info(add_kernel)
    print(f"tritoncompat.cache_info(add_kernel): {info.hits} fast-path hits, {info.misses} miss (the first launch "
          f"compiles through Triton's own path), through Triton's own path on purpose: {dict(info.fallbacks) or 'none'}")


if __name__ == "__main__":
    main()
