"""Interpreter mode (TRITON_INTERPRET=1; 2.1: @triton.jit(interpret=True)): launch() and patched
launches compute correct results through Triton's own path, counted as fallbacks."""

import textwrap

import pytest

pytestmark = [pytest.mark.triton]

SNIPPET = textwrap.dedent('''
    import torch
    import tritoncompat

    @jit
    def axpb(x_ptr, out_ptr, n, k, alpha, BLOCK: tl.constexpr = 128):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=0.0) * alpha + k, mask=m)

    def main():
        x = torch.randn(1000)
        grid = lambda meta: ((1000 + meta["BLOCK"] - 1) // meta["BLOCK"],)
        outs = [torch.zeros(1000) for _ in range(4)]
        # 2.1's debugger applies no defaults: it needs every constexpr as a keyword
        block = {"BLOCK": 128} if triton.__version__.startswith("2.1.") else {}
        tritoncompat.launch(axpb, grid, x, outs[0], 1000, 3, 2.5, **block)
        tritoncompat.launch(axpb, (8,), x, outs[1], 1000, 3, 2.5, BLOCK=128)
        with tritoncompat.patched():
            axpb[grid](x, outs[2], 1000, 3, 2.5, **block)
        # the interpreter has no streams: stream=/device= are checked, then ignored
        tritoncompat.launch(axpb, (8,), x, outs[3], 1000, 3, 2.5, BLOCK=128, stream=0x1234, device=0)
        try:
            tritoncompat.launch(axpb, (8,), x, outs[3], 1000, 3, 2.5, BLOCK=128, stream="s")
        except TypeError as exc:
            assert "tritoncompat.launch(stream=...)" in str(exc), exc
        else:
            raise AssertionError("a str stream was accepted")
        for out in outs:
            assert torch.allclose(out, x * 2.5 + 3, atol=1e-5), out[:4]
        info = tritoncompat.cache_info()
        assert info.hits == 0, info
        assert info.fallbacks.get("interpreter") == 3, info
        print("INTERP_OK", info)

    main()
''')


def _interpreter_problem():
    try:
        from tritoncompat.testing import fake as _fake
    except ImportError as exc:  # no triton: the triton marker skips it
        return str(exc)
    return _fake.interpreter_problem()


@pytest.mark.skipif(_interpreter_problem() is not None, reason=str(_interpreter_problem()))
def test_interpreter_results_and_fallbacks():
    from tritoncompat.testing import fake as _fake

    result = _fake.run_interpreter_snippet(SNIPPET)
    assert "INTERP_OK" in result.stdout, (result.stdout[-2000:], result.stderr[-4000:])
