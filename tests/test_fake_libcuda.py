"""Triton's real launcher on CPU, against the fake libcuda (tritoncompat.testing.fake_libcuda): what it
hands the driver, byte for byte. Triton 3.0-3.9; skipped with the reason elsewhere."""

import ctypes
import os
import re

import pytest

pytestmark = pytest.mark.triton

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

from tritoncompat.testing import TRITON_VERSION as V  # noqa: E402
from tritoncompat.testing import fake_libcuda as fl  # noqa: E402

if fl.supported():
    pytest.skip(f"fake libcuda: {fl.supported()}", allow_module_level=True)

import triton.language as tl  # noqa: E402

CPU_TENSOR = re.compile(r"Pointer argument (\(at (\d+)\) )?cannot be accessed from Triton \(cpu tensor\?\)")


def _scratch_count(ptx_sizes, real_params):
    n = len(ptx_sizes) - real_params
    assert n == (0 if V < (3, 3) else 1 if V < (3, 5) else 2)   # 3.3: global_scratch; 3.5: profile_scratch
    return n


def _kernel():
    @triton.jit
    def k(x_ptr, y_ptr, n, big, scale, flag, one, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask)
        if flag:
            x = x * scale
        tl.store(y_ptr + offs, x + big + one + tl.program_id(1), mask=mask)
    return k


def test_launch_records_config_and_parameter_bytes(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    compiled = k[(3, 2, 1)](x, y, -7, 2**40 + 3, 0.1, True, 1, BLOCK=64, num_warps=8)
    [launch] = fl.launches()
    ptx_sizes = fl.ptx_param_sizes(compiled.asm["ptx"], compiled.metadata.name)
    # `one` == 1 is specialized into a constant, BLOCK is a constexpr: neither is a parameter
    assert ptx_sizes[:6] == [8, 8, 4, 8, 4, 1]
    scratch = _scratch_count(ptx_sizes, 6)
    # up to 3.3, cuLaunchKernel for a plain launch (num_ctas 1, not cooperative); 3.4+ always Ex
    assert launch["entry"] == ("cuLaunchKernel" if V < (3, 4) else "cuLaunchKernelEx")
    assert launch["error"] is None
    assert launch["function"] == compiled.function
    assert launch["grid"] == (3, 2, 1)
    assert launch["block"] == (256, 1, 1)
    assert launch["shared"] == compiled.metadata.shared
    assert launch["stream"] == fake_libcuda.stream
    assert launch["attrs"] == []
    assert [len(p) for p in launch["params"]] == ptx_sizes
    assert launch["params"] == [fl.pack("Q", x.data_ptr()), fl.pack("Q", y.data_ptr()), fl.pack("i", -7),
                                fl.pack("q", 2**40 + 3), fl.pack("f", 0.1), b"\x01"] + [bytes(8)] * scratch
    assert fake_libcuda.calls == []     # the real launcher ran, not FakeCuda's recording one
    counts = fl.counters()
    # 3.2+ make sure of a current context first; 3.0-3.1 don't
    assert counts["cuPointerGetAttribute"] == 2 and counts["cuCtxGetCurrent"] == (V >= (3, 2))
    assert counts["cuDevicePrimaryCtxRetain"] == 0


def test_every_launch_is_recorded_with_its_own_values(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    first = k[(1,)](x, y, 100, -(2**40) + 1, 2.5, False, 1, BLOCK=128)
    second = k[(4, 1, 3)](y, x, 5, 2**33 + 5, -1.0, True, 1, BLOCK=128)     # an int >= 2**31: i64
    a, b = fl.launches()
    assert (a["function"], b["function"]) == (first.function, second.function)
    assert a["block"] == b["block"] == (128, 1, 1)      # num_warps=4
    assert (a["grid"], b["grid"]) == ((1, 1, 1), (4, 1, 3))
    assert a["params"][:6] == [fl.pack("Q", x.data_ptr()), fl.pack("Q", y.data_ptr()), fl.pack("i", 100),
                               fl.pack("q", -(2**40) + 1), fl.pack("f", 2.5), b"\x00"]
    assert b["params"][:6] == [fl.pack("Q", y.data_ptr()), fl.pack("Q", x.data_ptr()), fl.pack("i", 5),
                               fl.pack("q", 2**33 + 5), fl.pack("f", -1.0), b"\x01"]


def test_two_kernels_two_functions(fake_libcuda):
    @triton.jit
    def copy(src, dst, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(dst + offs, tl.load(src + offs, mask=offs < n), mask=offs < n)

    @triton.jit
    def fill(dst, value, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(dst + offs, tl.zeros([BLOCK], dtype=tl.float32) + value, mask=offs < n)

    a, b = torch.zeros(64), torch.zeros(64)
    c1 = copy[(2,)](a, b, 64, BLOCK=32, num_warps=1)
    c2 = fill[(1,)](b, 3.0, 63, BLOCK=64, num_warps=2)
    l1, l2 = fl.launches()
    assert (l1["function"], l2["function"]) == (c1.function, c2.function) and c1.function != c2.function
    assert (l1["block"], l2["block"]) == ((32, 1, 1), (64, 1, 1))
    # 64 is divisible by 16: Triton specializes the attribute, but still passes the value
    assert l1["params"][:3] == [fl.pack("Q", a.data_ptr()), fl.pack("Q", b.data_ptr()), fl.pack("i", 64)]
    assert l2["params"][:3] == [fl.pack("Q", b.data_ptr()), fl.pack("f", 3.0), fl.pack("i", 63)]
    assert all(p == bytes(8) for p in l2["params"][3:])


def test_the_launcher_passes_the_translated_device_pointer(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    delta = 0x7000_0000_0000
    fl.map_pointer(y, delta)
    k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    [launch] = fl.launches()
    assert launch["params"][0] == fl.pack("Q", x.data_ptr())
    assert launch["params"][1] == fl.pack("Q", y.data_ptr() + delta)


def test_host_pointer_raises_and_launches_nothing(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    fl.mark_host(y)
    with pytest.raises(ValueError, match=CPU_TENSOR) as info:
        k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    at = CPU_TENSOR.search(str(info.value)).group(2)
    assert at == (None if V >= (3, 7) else "1")     # 3.7+'s shared launcher does not say which
    assert fl.launches() == []
    fl.reset()
    k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    assert len(fl.launches()) == 1


def test_injected_launch_failure_raises_tritons_error(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    fl.fail_next_launch(fl.CUDA_ERROR_LAUNCH_FAILED)
    with pytest.raises(RuntimeError, match=r"Triton Error \[CUDA\]: unspecified launch failure"):
        k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    assert fl.launches() == [] and fl.counters()["launch_failed"] == 1
    fl.fail_next_launch(fl.CUDA_ERROR_ILLEGAL_ADDRESS)
    with pytest.raises(RuntimeError, match="an illegal memory access was encountered"):
        k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)      # one failure each
    assert len(fl.launches()) == 1


@pytest.mark.skipif(V < (3, 2), reason="3.0-3.1's launchers never check for a current context")
def test_no_current_context_retains_the_primary_context_of_device_0(fake_libcuda):
    k = _kernel()
    x, y = torch.zeros(100), torch.zeros(100)
    fl.set_no_context()
    k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)
    counts = fl.counters()
    assert (counts["cuDeviceGet"], counts["cuDevicePrimaryCtxRetain"], counts["cuCtxSetCurrent"]) == (1, 1, 1)
    k[(1,)](x, y, 100, 1, 1.0, True, 1, BLOCK=64)       # now there is a current context
    counts = fl.counters()
    assert (counts["cuDeviceGet"], counts["cuDevicePrimaryCtxRetain"], counts["cuCtxSetCurrent"]) == (1, 1, 1)
    assert len(fl.launches()) == 2


def test_launch_attributes(fake_libcuda):
    @triton.jit
    def k(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)

    x = torch.zeros(100)
    if V >= (3, 3):     # launch_cooperative_grid is new in 3.3
        k[(3,)](x, 100, BLOCK=64, launch_cooperative_grid=True)
        [coop] = fl.launches()
        assert coop["entry"] == "cuLaunchKernelEx"
        assert [(a["name"], a["value"]) for a in coop["attrs"]] == [("COOPERATIVE", (1,))]
        fl.reset()
    k[(3,)](x, 100, BLOCK=64, num_ctas=2)
    [cluster] = fl.launches()
    assert cluster["entry"] == "cuLaunchKernelEx"
    assert cluster["grid"] == (6, 1, 1)      # gridX * num_ctas
    assert [(a["name"], a["value"]) for a in cluster["attrs"]] == [
        ("CLUSTER_DIMENSION", (2, 1, 1)), ("CLUSTER_SCHEDULING_POLICY_PREFERENCE", (1,))]  # SPREAD
    if V >= (3, 4):
        fl.reset()
        k[(3,)](x, 100, BLOCK=64, launch_pdl=True)
        [pdl] = fl.launches()
        assert [(a["name"], a["value"]) for a in pdl["attrs"]] == [("PROGRAMMATIC_STREAM_SERIALIZATION", (1,))]


def test_dlopen_libcuda_is_the_fake(fake_libcuda):
    lib = fl.load()
    again = ctypes.CDLL("libcuda.so.1")
    assert again._handle == lib._handle
    assert ctypes.cast(again.cuLaunchKernelEx, ctypes.c_void_p).value == \
        ctypes.cast(lib.cuLaunchKernelEx, ctypes.c_void_p).value
    assert os.environ["TRITON_LIBCUDA_PATH"] == os.path.dirname(fl.library_path())
    with open("/proc/self/maps") as f:
        libcudas = {line.split()[-1] for line in f if "libcuda.so" in line}
    assert libcudas == {fl.library_path()}


def test_install_points_triton_at_the_fake_and_uninstall_restores():
    from tritoncompat.testing import FakeCuda
    from triton.backends.nvidia import driver

    before = os.environ.get("TRITON_LIBCUDA_PATH")
    with FakeCuda(real_launcher=True):
        assert driver.libcuda_dirs() == [os.path.dirname(fl.library_path())]
    assert os.environ.get("TRITON_LIBCUDA_PATH") == before


def test_ptx_param_sizes():
    ptx = """
.visible .entry other(.param .u32 a)
.visible .entry kern(
	.param .u64 .ptr .global .align 1 kern_param_0,
	.param .u32 kern_param_1,
	.param .f32 kern_param_2,
	.param .b16 kern_param_3,
	.param .f64 kern_param_4,
	.param .u8 kern_param_5,
	.param .align 64 .b8 kern_param_6[128],
	.param .u64 .ptr .global .align 1 kern_param_7
)
.maxntid 128, 1, 1
{
}"""
    assert fl.ptx_param_sizes(ptx, "kern") == [8, 4, 4, 2, 8, 1, 128, 8]
    assert fl.ptx_param_sizes(ptx) == [4]
    assert fl.ptx_param_sizes(".entry e()\n{}", "e") == []


def test_cc_is_split_as_shell_words(monkeypatch):
    """``CC="gcc -O2"``: the fake libcuda builds with it split (today ``["gcc -O2", ...]``: a
    FileNotFoundError that crashed ``python -m tritoncompat``); Triton's own launcher build takes
    ``CC`` as one program name, so the self-check's driver step is skipped with that reason."""
    import shutil

    compiler = shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no gcc or clang here")
    monkeypatch.setenv("CC", f"{compiler} -O2")
    assert fl._compiler() == [compiler, "-O2"]
    assert os.path.exists(fl._build())
    assert "as one program name" in (fl.supported() or "")
