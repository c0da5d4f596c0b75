"""The README's code runs: the API block (on every release, under the fake driver; unchanged on a
GPU) and the library section's optional-dependency snippet (both branches)."""

import os
import re
import runpy
import sys
import types

import pytest

from tritoncompat.testing import FakeCuda  # noqa: F401  (needs Triton: the module is skipped without it)

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _block(heading, lang="python"):
    text = open(README).read()
    section = text[text.index(f"\n## {heading}\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


class _TorchLikeStream:
    """What launch() reads from a torch.cuda.Stream: cuda_stream and device."""

    def __init__(self, handle, index):
        self.cuda_stream = handle
        self.device = types.SimpleNamespace(type="cuda", index=index)


# On CPU: the tensors on the CPU (the fake driver launches CPU tensors) and a stand-in stream.
CPU_EDITS = [('device="cuda"', 'device="cpu"', 2), ("torch.cuda.Stream()", "_TorchLikeStream(0x5E1, 0)", 1)]


def _run(code, tmp_path, **init_globals):
    path = tmp_path / "readme_api.py"  # @triton.jit reads the kernel's source from its file
    path.write_text(code)
    return runpy.run_path(str(path), init_globals=init_globals, run_name="readme_api")


def test_api_block_runs_under_the_fake_driver(fake_cuda, tmp_path):
    code = _block("API")[0]
    for old, new, count in CPU_EDITS:
        assert code.count(old) == count, f"the README's API block changed: {old!r} appears {code.count(old)} times"
        code = code.replace(old, new)
    _run(code, tmp_path, _TorchLikeStream=_TorchLikeStream)
    # 2 plain launches, 2 with a stream, 1 patched: the stream ones on the side stream's handle
    streams = [call[fake_cuda_stream_slot()] for call in fake_cuda.calls]
    assert len(streams) == 5, streams
    assert streams[2] == streams[3] == 0x5E1 and streams[0] == streams[4] == fake_cuda.streams[0]
    assert tritoncompat_info_is_zero()  # the block ends with cache_clear()


def fake_cuda_stream_slot():
    from tritoncompat.testing.fake import V

    return 5 if V < (2, 2) else 9 if V < (3, 0) else 3


def tritoncompat_info_is_zero():
    import tritoncompat

    info = tritoncompat.cache_info()
    return info.hits == info.misses == info.entries == 0


@pytest.mark.gpu
def test_api_block_runs_unchanged_on_a_gpu(tmp_path):
    import torch

    namespace = _run(_block("API")[0], tmp_path)
    torch.cuda.synchronize()
    torch.testing.assert_close(namespace["out"], namespace["x"] + namespace["y"])


@pytest.mark.parametrize("installed", [True, False])
def test_library_snippet_falls_back_to_kernel_grid(monkeypatch, installed):
    snippet = _block("Using tritoncompat in a library")[0]
    if not installed:
        monkeypatch.setitem(sys.modules, "tritoncompat", None)  # import raises ImportError
    namespace = {}
    exec(compile(snippet, f"{README}:library", "exec"), namespace)
    launch = namespace["_launch"]
    if installed:
        import tritoncompat

        assert launch is tritoncompat.launch
        return
    seen = []

    class Kernel:
        def __getitem__(self, grid):
            return lambda *args, **kwargs: seen.append((grid, args, kwargs)) or "compiled"

    assert launch(Kernel(), (4,), 1, 2, BLOCK=8) == "compiled"
    assert seen == [((4,), (1, 2), {"BLOCK": 8})]
