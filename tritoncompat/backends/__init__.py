"""Backends: one module per Triton launch-ABI generation.

=========  ==============  ===============================================================
module     releases        launch ABI
=========  ==============  ===============================================================
``v2_1``   2.1.0           exec'd per-instance ``run``; ``bin.c_wrapper(gx, gy, gz, nw, ...)``
``v2_2``   2.2.0           ``Signature.bind``; ``device=``/``stream=`` kwargs
``v2_3``   2.3.0 - 2.3.1   no ``device=``/``stream=``; options dataclass in the key
``v3_0``   3.0.0 - 3.2.0   exec'd binder; string key; non-constexpr launcher args
``v3_3``   3.3.0 - 3.9.0   ``device_caches``; every parameter goes to the launcher
=========  ==============  ===============================================================

Every module satisfies :class:`Backend`. Backends never import each other, nor ``_launch`` or
``_select``; shared pieces live in ``backends/_common.py``. A backend module imports Triton when it is imported, so it is imported
only once a launch or ``patch()`` needs it.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

try:
    from typing import Protocol
except ImportError:  # Python < 3.8
    Protocol = object  # type: ignore[assignment,misc]

__all__ = ["Backend", "FastLaunch"]

# ``fast(grid, *args, **kwargs)``: launches like ``kernel[grid](*args, **kwargs)`` and returns
# what it returns. Misses and fallbacks go through Triton's own path inside it.
FastLaunch = Callable[..., Any]


class Backend(Protocol):
    """The contract of a backend module."""

    #: the module's name, e.g. ``"v3_3"``
    NAME: str

    def describe(self) -> str:
        """One line naming the features probed on the installed release."""

    def is_kernel(self, obj: Any) -> bool:
        """True for the kernel objects this backend builds fast launchers for
        (``JITFunction`` itself, not interpreter or wrapper objects)."""

    def build(self, kernel: Any, *, verify: bool, max_entries: int, sample: Any = None) -> Tuple[FastLaunch, Any]:
        """Generate the fast launcher of one kernel (done once per kernel, on its first launch;
        ``sample`` is that launch's ``(args, kwargs)``, used only to order type tests): ``(launcher,
        its key cache)``, or ``(forwarder, None)`` for a kernel it cannot serve."""

    def build_forwarder(self, kernel: Any, reason: str) -> FastLaunch:
        """A launcher that always goes through Triton's own (unpatched) path, counted."""

    def native(self, kernel: Any, grid: Any, args: tuple, kwargs: dict) -> Any:
        """Launch through Triton's own (unpatched) path."""

    def patch_targets(self, fast_launch: FastLaunch, resolve: Callable[[Any], FastLaunch],
                      switch: Any) -> List[Tuple[Any, str, Any]]:
        """``(owner, attribute, replacement)`` triples that ``patch()`` installs; the replacements
        call ``_launch``'s ``fast_launch`` / ``resolve``, handed down (backends never import ``_launch``),
        and do what the attribute they replaced did once ``switch.on`` is False (``_common.Switch``)."""

    def floor(self, kernel: Any, compiled: Any, grid: Any, args: tuple, kwargs: dict, stream: int) -> Callable[[], Any]:
        """The benchmark's floor: a callable that calls the compiled kernel's launcher with
        prebuilt arguments (in this launch ABI's layout) and no hooks."""
