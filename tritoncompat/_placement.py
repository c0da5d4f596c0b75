"""``launch(..., stream=..., device=...)``: the explicit stream and device of one launch.

Every Triton release reads the device and the stream of a launch from torch's current ones
(2.1-2.2 through ``triton.runtime.jit``, 2.3+ through the active driver), so an explicit stream
or device is honoured on every release, by the fast path and by Triton's own path alike, by
making it torch's current device / stream for the duration of the launch and restoring the
previous ones afterwards (2.1-2.2's own ``device=`` leaves the device switched; this does not).
Nothing is cached: the stream is read from the argument on every launch.

Accepted values:

* ``stream``: ``None`` (torch's current stream), a ``torch.cuda.Stream`` / ``ExternalStream``
  (anything with ``cuda_stream`` and ``device``), an object with the CUDA stream protocol
  ``__cuda_stream__()``, or a raw ``cudaStream_t`` handle as an ``int``.
* ``device``: ``None`` (the stream's device, else torch's current one), an ``int`` index,
  ``"cuda"`` / ``"cuda:N"``, or a ``torch.device`` of type ``cuda``.

Anything else raises ``TypeError`` / ``ValueError`` from the user's call, before any launch.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Tuple

__all__ = ["parse_device", "parse_stream", "run_on"]


def parse_device(device: Any) -> Optional[int]:
    """The CUDA device index ``device`` names (None: not given)."""
    if device is None:
        return None
    if type(device) is int:
        index = device
    elif isinstance(device, str) or type(device).__name__ == "device":  # "cuda:1", torch.device
        text = str(device)
        kind, _, number = text.partition(":")
        if kind != "cuda" or (number and not number.isdigit()):
            raise ValueError(f"tritoncompat.launch(device=...) expects a CUDA device, got {device!r}")
        index = int(number) if number else None
        if index is None:
            return None
    else:
        raise TypeError("tritoncompat.launch(device=...) expects an int index, 'cuda:N' or a torch.device, "
                        f"got {type(device).__name__} {device!r}")
    if index < 0:
        raise ValueError(f"tritoncompat.launch(device=...) expects a device index >= 0, got {index}")
    return index


def parse_stream(stream: Any) -> Tuple[Optional[int], Optional[int], Any]:
    """``(raw handle, device index of the stream, torch stream or None)``; ``(None, None, None)``
    when no stream is given."""
    if stream is None:
        return None, None, None
    if type(stream) is int:
        return _handle(stream), None, None
    handle = getattr(stream, "cuda_stream", None)
    if type(handle) is int:  # torch.cuda.Stream, torch.cuda.ExternalStream
        device = getattr(stream, "device", None)
        index = getattr(device, "index", None)
        if getattr(device, "type", "cuda") != "cuda":
            raise ValueError(f"tritoncompat.launch(stream=...) got a stream of device {device}, not a CUDA one")
        return handle, index, stream if hasattr(stream, "stream_id") else None
    protocol = getattr(type(stream), "__cuda_stream__", None)
    if protocol is not None:  # the CUDA stream protocol (cuda.core): (version, handle)
        _, handle = protocol(stream)
        return _handle(int(handle)), None, None
    raise TypeError("tritoncompat.launch(stream=...) expects a torch.cuda.Stream, an object with "
                    f"__cuda_stream__ or a raw cudaStream_t handle (int), got {type(stream).__name__} {stream!r}")


def _handle(value: int) -> int:
    # A cudaStream_t is a pointer: 64 bits. Beyond them torch (and the own launch) would mask it
    # to another stream.
    if not 0 <= value < 2**64:
        raise ValueError(f"tritoncompat.launch(stream=...) expects a cudaStream_t handle (0 <= handle < 2**64), "
                         f"got {value}")
    return value


def run_on(call: Callable[[], Any], device: Any, stream: Any) -> Any:
    """``call()`` with ``device`` / ``stream`` as the current device and stream."""
    index = parse_device(device)
    handle, stream_device, torch_stream = parse_stream(stream)
    if stream_device is not None:
        if index is None:
            index = stream_device
        elif index != stream_device:
            raise ValueError(f"tritoncompat.launch: stream {stream!r} is on cuda:{stream_device}, "
                             f"not on the device given, cuda:{index}")
    if index is None and handle is None:
        return call()
    return runtime.run(call, index, handle, torch_stream)


class _TorchRuntime:
    """torch's current device and stream, set for one call and restored after it."""

    def run(self, call: Callable[[], Any], index: Optional[int], handle: Optional[int], torch_stream: Any) -> Any:
        torch = sys.modules.get("torch")
        if torch is None or not hasattr(torch._C, "_cuda_getDevice"):
            raise RuntimeError("tritoncompat.launch(stream=/device=...) needs torch with CUDA, which is not available")
        cuda, C = torch.cuda, torch._C
        current = C._cuda_getDevice()
        previous_device = None
        if index is not None and index != current:
            previous_device = cuda._exchange_device(index)
            current = index
        previous_stream = None
        try:
            if handle is not None and handle != C._cuda_getCurrentRawStream(current):
                if torch_stream is None:
                    torch_stream = cuda.ExternalStream(handle, device=current)
                previous_stream = C._cuda_getCurrentStream(current)  # (stream_id, device_index, device_type)
                C._cuda_setStream(stream_id=torch_stream.stream_id, device_index=torch_stream.device_index,
                                  device_type=torch_stream.device_type)
            return call()
        finally:
            if previous_stream is not None:
                C._cuda_setStream(stream_id=previous_stream[0], device_index=previous_stream[1],
                                  device_type=previous_stream[2])
            if previous_device is not None:
                cuda._maybe_exchange_device(previous_device)


#: What makes a device and a stream current for one call: torch's. (The CPU fake of
#: ``tritoncompat.testing`` replaces it while installed, as it replaces Triton's own driver.)
runtime: Any = _TorchRuntime()
