"""tritoncompat.language on the installed release: tcl.libdevice (compiled under the fake CUDA
driver: the same libdevice call as the release's own module; numerics of the Triton-language
implementations against torch in the interpreter) and tcl.make_tensor_descriptor."""

import re

import pytest
import torch
import triton
import triton.language as tl

import tritoncompat
import tritoncompat.language as tcl
from tritoncompat.language import _libdevice_names, libdevice
from tritoncompat.testing import TRITON_VERSION as V, error_messages, interpreter_problem, run_interpreter_snippet


def _native_module():
    """Where this release's own CUDA libdevice lives (what packages import by hand)."""
    try:
        from triton.language.extra.cuda import libdevice as cuda     # 3.0+
        return cuda
    except ImportError:
        return tl.math                                                  # 2.1 - 2.3


def _strip(ptx, name):
    # debug line info differs (the wrapper has its own "file"); the code must not
    ptx = re.split(r"\.section\s+\.debug", ptx)[0]
    lines = [line for line in ptx.splitlines() if not re.match(r"\s*(\.loc|\.file|//|\$L__)", line)]
    return re.sub(r"\b\w*" + name + r"\w*\b", "KERNEL", "\n".join(lines))


LD = _native_module()


def _kernels():
    @triton.jit
    def through_tcl(x_ptr, y_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offs)
        y = tcl.libdevice.tanh(x) + tcl.libdevice.pow(x, 1.5) + tcl.libdevice.erfinv(x * 0.5) + tcl.libdevice.rsqrt(x)
        tl.store(y_ptr + offs, y)

    @triton.jit
    def native(x_ptr, y_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offs)
        y = LD.tanh(x) + LD.pow(x, 1.5) + LD.erfinv(x * 0.5) + LD.rsqrt(x)
        tl.store(y_ptr + offs, y)
    return through_tcl, native


def test_libdevice_through_tcl_compiles_to_what_the_releases_module_compiles_to(fake_cuda):
    through_tcl, native = _kernels()
    x, y = torch.rand(64), torch.empty(64)
    ours = through_tcl[(1,)](x, y, BLOCK=64)
    theirs = native[(1,)](x, y, BLOCK=64)
    symbols = set(re.findall(r"__nv_\w+", ours.asm["ttir"]))
    assert symbols == {"__nv_tanhf", "__nv_powf", "__nv_erfinvf", "__nv_rsqrtf"}, symbols
    assert symbols == set(re.findall(r"__nv_\w+", theirs.asm["ttir"]))
    assert _strip(ours.asm["ptx"], "through_tcl") == _strip(theirs.asm["ptx"], "native")
    assert len(fake_cuda.calls) == 2


def test_names_cover_every_release_and_this_ones_module():
    # the generated table (.ci/libdevice-names) against the installed release's own module
    module = _native_module()
    own = {name for name, value in vars(module).items()
           if callable(value) and getattr(value, "__module__", "") == module.__name__ and not name.startswith("_")}
    own.discard("libdevice_path")
    assert own <= set(_libdevice_names.CUDA)
    release = ".".join(map(str, tritoncompat.triton_version()))
    listed = {n for n, (_, have) in _libdevice_names.CUDA.items() if have is None or release in have}
    if V >= (3, 0):
        assert listed == own
    for name in listed:
        assert getattr(libdevice, name) is not None
    assert {"tanh", "erfinv", "log1p", "rsqrt", "pow", "fast_expf"} <= set(_libdevice_names.CUDA)


def test_max_min_left_tl_math_in_3_0_and_still_compile(fake_cuda):

    @triton.jit
    def k(x_ptr, y_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        x = tl.load(x_ptr + offs)
        tl.store(y_ptr + offs, tcl.libdevice.max(x, 0.5) + tcl.libdevice.min(x, 0.25))

    k[(1,)](torch.rand(16), torch.empty(16), BLOCK=16)
    assert len(fake_cuda.calls) == 1
    assert hasattr(tl.math, "max") == (V < (3, 0))


def test_unknown_libdevice_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"no function 'tanhh': no Triton release 2.1.0 - 3.9.0"):
        libdevice.tanhh


def test_a_name_this_release_lacks_fails_at_compile_time_naming_it(fake_cuda):

    # fast_tanhf: the HIP libdevice's (3.5+); no CUDA libdevice of any release has it
    assert libdevice.NAMES - set(_libdevice_names.CUDA) == {"fast_tanhf"}

    @triton.jit
    def k(x_ptr):
        x = tl.load(x_ptr)
        tl.store(x_ptr, tcl.libdevice.fast_tanhf(x))

    with pytest.raises(Exception, match="fast_tanhf") as error:
        k[(1,)](torch.rand(1))
    if not hasattr(getattr(libdevice, "_generic", None), "fast_tanhf"):
        # before 3.5 ours names the release; 3.5+ compile it for the target's module (Triton's
        # own error on CUDA: "module ...cuda.libdevice has no attribute 'fast_tanhf'")
        assert re.search(rf"Triton {re.escape(triton.__version__)} has no libdevice function 'fast_tanhf'",
                         error_messages(error.value))
    assert not fake_cuda.calls


# --------------------------------------------------------------------- interpreter numerics
# name -> (torch reference on float64, inputs)
INF = float("inf")
GENERAL = [-30.0, -4.0, -1.5, -0.3, -1e-3, -1e-7, 0.0, 3e-8, 2e-5, 0.01, 0.7, 1.0, 2.5, 9.0, 40.0]
POSITIVE = [1e-30, 1e-6, 0.01, 0.5, 1.0, 2.0, 7.5, 100.0, 1e20]
UNIT = [-1.0, -0.999, -0.9, -0.5, -1e-4, -1e-8, 0.0, 1e-6, 0.2, 0.75, 0.99, 0.99999, 1.0]
REFERENCE = {
    "abs": ("torch.abs(a)", GENERAL), "acosh": ("torch.acosh(a)", [1.0, 1.0001, 1.5, 3.0, 1e4]),
    "asinh": ("torch.asinh(a)", GENERAL), "atanh": ("torch.atanh(a)", UNIT[1:-1]),
    "cbrt": ("torch.sign(a) * a.abs() ** (1 / 3)", GENERAL), "cos": ("torch.cos(a)", GENERAL),
    "cosh": ("torch.cosh(a)", GENERAL[1:-1]), "erf": ("torch.erf(a)", GENERAL), "erfinv": ("torch.erfinv(a)", UNIT),
    "exp": ("torch.exp(a)", GENERAL), "exp10": ("10 ** a", GENERAL[1:-1]), "expm1": ("torch.expm1(a)", GENERAL),
    "fast_expf": ("torch.exp(a)", GENERAL), "fast_logf": ("torch.log(a)", POSITIVE), "log": ("torch.log(a)", POSITIVE),
    "log10": ("torch.log10(a)", POSITIVE), "log1p": ("torch.log1p(a)", [-0.999, -0.5, -1e-7, 0.0, 1e-9, 3e-4, 0.5, 10.0, 1e30]),
    "rsqrt": ("torch.rsqrt(a)", POSITIVE), "sin": ("torch.sin(a)", GENERAL), "sinh": ("torch.sinh(a)", GENERAL[1:-1]),
    "sqrt": ("torch.sqrt(a)", POSITIVE), "tanh": ("torch.tanh(a)", GENERAL + [-50.5, 44.0, 60.0]),
    "isnan": ("torch.isnan(a).to(torch.int32)", [0.0, 1.0, float("nan"), INF, -INF]),
    "isinf": ("torch.isinf(a).to(torch.int32)", [0.0, 1.0, -3e38, float("nan"), INF, -INF]),
    "max": ("torch.fmax(a, b)", GENERAL), "min": ("torch.fmin(a, b)", GENERAL), "hypot": ("torch.hypot(a, b)", GENERAL),
}


def test_reference_covers_every_implementation():
    assert set(REFERENCE) == set(libdevice.IMPLEMENTED)


INTERPRETER_CHECK = """
import warnings
import tritoncompat.language as tcl
warnings.simplefilter("ignore")


@jit
def unary(x_ptr, out_ptr, n, NAME: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + offs, getattr(tcl.libdevice, NAME)(x), mask=m)


@jit
def binary(x_ptr, y_ptr, out_ptr, n, NAME: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    y = tl.load(y_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + offs, getattr(tcl.libdevice, NAME)(x, y), mask=m)


bad = []
for name, (reference, inputs) in sorted(REFERENCE.items()):
    a = torch.tensor(inputs, dtype=torch.float32)
    b = torch.flip(a, (0,)) * 0.75
    if name in ("max", "min"):
        b[::3] = nan
    integer = name in ("isnan", "isinf")
    out = torch.empty(len(inputs), dtype=torch.int32 if integer else torch.float32)
    if "b" in reference.replace("abs", ""):
        binary[(1,)](a, b, out, len(inputs), NAME=name, BLOCK=32)
    else:
        unary[(1,)](a, out, len(inputs), NAME=name, BLOCK=32)
    want = eval("lambda a, b: " + reference)(a.double(), b.double())
    want = want if integer else want.float()
    try:
        torch.testing.assert_close(out, want, rtol=4e-6, atol=2e-7, equal_nan=True)
    except AssertionError as e:
        bad.append((name, str(e).splitlines()[-3:], out.tolist(), want.tolist()))
try:
    unary[(1,)](torch.zeros(1), torch.zeros(1), 1, NAME="j0", BLOCK=16)
    bad.append(("j0", "no error"))
except Exception as e:
    if "interpreter" not in str(e) or triton.__version__ not in str(e):
        bad.append(("j0", repr(e)))
print("BAD", bad)
"""
LIBDEVICE_CHECK = f"nan, inf = float('nan'), float('inf')\nREFERENCE = {REFERENCE!r}\n" + INTERPRETER_CHECK


@pytest.mark.skipif(interpreter_problem() is not None, reason=str(interpreter_problem()))
@pytest.mark.skipif(V < (2, 2), reason="2.1's interpreter is @triton.jit(interpret=True) per kernel, which "
                                       "tcl.libdevice does not see (it resolves for TRITON_INTERPRET=1)")
def test_triton_language_implementations_match_torch_in_the_interpreter():
    from test_compat_clients import interpreter_run

    stdout = interpreter_run(LIBDEVICE_CHECK)
    assert stdout.strip().splitlines()[-1] == "BAD []", stdout[-4000:]


# ------------------------------------------------------------------------ tensor descriptors
def _descriptor_kernel():

    @triton.jit
    def k(x_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
        desc = tcl.make_tensor_descriptor(x_ptr, (M, N), (N, 1), (BM, BN))
        block = desc.load([0, 0])
        desc.store([0, 0], block + 1.0)
    return k


def test_make_tensor_descriptor_compiles_where_the_release_has_it(fake_cuda):
    k = _descriptor_kernel()
    x = torch.zeros(64, 64)
    if tritoncompat.has("tensor_descriptor"):
        ck = k[(1,)](x, 64, 64, BM=16, BN=16)
        assert len(fake_cuda.calls) == 1
        assert "tensormap" in ck.asm["ptx"]         # built on the device (3.3: _experimental_)
    else:
        with pytest.raises(Exception) as error:
            k[(1,)](x, 64, 64, BM=16, BN=16)
        assert re.search(rf"make_tensor_descriptor: Triton {re.escape(triton.__version__)} has no device-side "
                         r"tensor descriptors", error_messages(error.value))
        assert not fake_cuda.calls


def test_the_scoped_allocator_is_what_tritons_launcher_calls(fake_libcuda):
    # Triton's real launcher (over the fake libcuda) asks the allocator for the descriptor's
    # global scratch: inside `with tritoncompat.allocator(fn)` it calls fn; outside, the
    # NullAllocator it started with raises.
    if not tritoncompat.has("tensor_descriptor"):
        pytest.skip("no device-side tensor descriptors on this release")
    k = _descriptor_kernel()
    x = torch.zeros(64, 64)
    allocations = []

    def alloc(size, alignment, stream):
        allocations.append((size, alignment, stream))
        return torch.empty(size, dtype=torch.int8)

    from triton.runtime import _allocation
    saved = tritoncompat._compat._current(_allocation)
    _allocation.set_allocator(_allocation.NullAllocator())
    try:
        with pytest.raises(RuntimeError, match="no allocator was set"):
            k[(1,)](x, 64, 64, BM=16, BN=16)
        with tritoncompat.allocator(alloc):
            k[(1,)](x, 64, 64, BM=16, BN=16)
        assert len(allocations) == 1 and allocations[0][0] > 0 and allocations[0][2] == fake_libcuda.stream
        assert tritoncompat.ensure_allocator(alloc) is True
        k[(1,)](x, 64, 64, BM=16, BN=16)
        assert len(allocations) == 2
    finally:
        _allocation.set_allocator(saved)


def test_host_tensor_descriptor_is_tritons_or_a_clear_error():
    TensorDescriptor = tritoncompat.TensorDescriptor
    if tritoncompat.has("tensor_descriptor_host"):
        from triton.tools.tensor_descriptor import TensorDescriptor as native
        assert TensorDescriptor is native
        desc = TensorDescriptor.from_tensor(torch.zeros(64, 64), [16, 16])
        assert list(desc.block_shape) == [16, 16]
    else:
        with pytest.raises(tritoncompat.TritonCompatError, match=rf"Triton {re.escape(triton.__version__)} has no "
                                                                 r"triton.tools.tensor_descriptor"):
            TensorDescriptor.from_tensor(torch.zeros(64, 64), [16, 16])
        with pytest.raises(tritoncompat.TritonCompatError):
            TensorDescriptor(None, [64], [1], [16])


# ------------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_gpu_libdevice_descriptors_allocator_and_target():
    # On the GPU machine: tcl.libdevice runs the real libdevice (compared with torch), a device-side
    # descriptor kernel runs with the allocator ensure_allocator set, and target() /
    # device_properties() agree with torch.
    device = torch.device("cuda", torch.cuda.current_device())
    capability = torch.cuda.get_device_capability(device)
    assert tritoncompat.target() == ("cuda", capability[0] * 10 + capability[1], 32)
    props = tritoncompat.device_properties(device)
    assert props["multiprocessor_count"] == torch.cuda.get_device_properties(device).multi_processor_count

    through_tcl, native = _kernels()
    x = torch.rand(64, device=device) + 0.1
    ours, theirs = torch.empty_like(x), torch.empty_like(x)
    through_tcl[(1,)](x, ours, BLOCK=64)
    native[(1,)](x, theirs, BLOCK=64)
    assert torch.equal(ours, theirs)
    want = torch.tanh(x) + x ** 1.5 + torch.erfinv(x * 0.5) + torch.rsqrt(x)
    torch.testing.assert_close(ours, want, rtol=1e-5, atol=1e-5)

    if tritoncompat.has("tensor_descriptor"):
        tritoncompat.ensure_allocator(lambda size, align, stream: torch.empty(size, dtype=torch.int8, device=device))
        k = _descriptor_kernel()
        data = torch.rand(64, 64, device=device)
        before = data.clone()
        k[(1,)](data, 64, 64, BM=16, BN=16)
        torch.cuda.synchronize()
        assert torch.equal(data[:16, :16], before[:16, :16] + 1.0) and torch.equal(data[16:], before[16:])
