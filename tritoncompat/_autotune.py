"""The autotuner memo: on a tuning-cache hit, an ``@triton.autotune`` launch skips
``Autotuner.run``'s key building and goes straight to the chosen config's fast launch.

On a hit, every release's ``Autotuner.run`` does the same (see the survey in the module's tests):
set ``self.nargs``, build the tuning key, read ``self.cache[key]`` (or take the only config),
set ``self.best_config``, call ``config.pre_hook`` if there is one, and call
``self.fn.run(*args, **kwargs, **config_kwargs)``; benchmarking, pruning, ``reset_to_zero``,
``restore_value``, printing, the disk cache (3.4+) and the listener (3.8+) happen on a miss only.

The memo maps a *memo key* to ``(tuning key, config)``. The memo key holds the call's layout
(how many positional arguments, which keywords in which order), the type of every argument
(a tensor's dtype) and the value of every tuning-key argument, so two launches with one memo key
have one tuning key (a refinement, as the fast key is of Triton's). A hit checks that Triton's
tuning cache still maps the tuning key to the same config object, so a cleared or re-tuned
cache is seen. Everything else goes through Triton's own ``Autotuner.run``: the first launch of
a memo key (which stores the tuning key and config Triton used, read from ``self.cache``, never
from the shared ``best_config``), configs with a ``pre_hook``, argument types other than exact
tensors and plain scalars, keywords that are not parameters, ``warmup``.

What differs by release (read from ``Autotuner.run``'s source once):

* the tuning key: values by index into the passed arguments (2.1-3.1, ``key_idx``) or by name
  (3.2+, ``keys``); ``str(dtype)`` of every argument with a dtype appended from 2.2 on;
* the config's keywords: ``num_warps``, ``num_stages`` before the call's (2.1), plus
  ``num_ctas``, ``enable_warp_specialization`` (2.2-2.3), ``config.all_kwargs()`` after them
  (3.0+), then ``config.kwargs``.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import weakref
from functools import lru_cache, partial
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from . import _cache, _codegen, _select, _slot
from ._errors import BUILD_FAILED
from ._slot import MEMO_ATTR
from .backends._common import intact, is_compiling_function, kind, through_run

__all__ = ["memo_for", "launcher", "heuristics_launcher", "original_run", "patch_targets", "MEMO_ATTR"]

_LAUNCH_KEYWORDS = ("grid", "warmup")  # what kernel[grid] adds to Autotuner.run's kwargs
_SCALARS = {int: int, float: float, bool: bool, type(None): type(None), str: str}
_memos: "weakref.WeakSet[Memo]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # a thread inside a memo's first launch (tuning) holds its lock: the child has no such thread
    for memo in list(_memos):
        memo.lock._at_fork_reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Style(NamedTuple):
    by_name: bool  # 3.2+: self.keys; else self.key_idx
    dtypes: bool  # 2.2+: str(arg.dtype) of every argument with a dtype
    merge: str  # "all_kwargs" (3.0+), "v22" (2.2-2.3), "v21" (2.1)


def style_of(autotuner_type: type) -> Optional[Style]:
    """How this release's ``Autotuner.run`` keys and merges, or None if it is not one we know."""
    try:
        source = inspect.getsource(original_run(autotuner_type))
    except (OSError, TypeError):
        return None
    by_name = "for key in self.keys" in source
    if not by_name and "self.key_idx" not in source:
        return None
    if "config.all_kwargs()" in source:
        merge = "all_kwargs"
    elif "enable_warp_specialization=config.enable_warp_specialization" in source:
        merge = "v22"
    elif "num_stages=config.num_stages" in source:
        merge = "v21"
    else:
        return None
    return Style(by_name, 'str(arg.dtype)' in source, merge)


class _Plan:
    """One call layout ``(n positional, *keyword names)``: its generated memo-key function (the
    dtype of every exact tensor and the type of every plain scalar argument, then the values of
    the tuning-key arguments; with the tuner's ``nargs`` dict for the call), the keywords that
    name parameters (in the call's order), and the memo entries of that layout."""

    __slots__ = ("key", "params", "entries")

    def __init__(self, key: Any, params: Tuple[str, ...]) -> None:
        self.key = key
        self.params = params
        self.entries: Dict[Any, Tuple] = {}


class Memo:
    """One autotuner's memo (kept in its ``__dict__``)."""

    def __init__(self, tuner: Any, style: Style, original_run: Any, is_kernel: Any, max_entries: int,
                 fast_launch: Any) -> None:
        self.tuner = tuner
        self.fast_launch = fast_launch  # _launch.fast_launch, handed down (this module sits below _launch)
        self.style = style
        self.original_run = original_run
        # @triton.heuristics between the autotuner and the kernel: run here, as Heuristics.run does
        self.heuristics: List[Any] = []
        fn = tuner.fn
        while kind(fn) == "heuristics" and hasattr(fn, "values"):
            self.heuristics.append(fn)
            fn = fn.fn
        self.kernel = fn
        self.direct = is_kernel(fn)  # a JITFunction under them: its fast launcher is called directly
        self.max_entries = max_entries
        self.plans: Dict[Tuple, Optional[_Plan]] = {}
        self.lock = threading.RLock()
        _memos.add(self)
        torch = sys.modules.get("torch")
        self.tensor = torch.Tensor if torch is not None else type("NoTensor", (), {})

    # ---------------------------------------------------------------- the hot path
    def run(self, args: tuple, kwargs: dict) -> Any:
        """``Autotuner.run(*args, **kwargs)`` (kwargs holding ``grid`` and, 2.3+, ``warmup``)."""
        layout = (len(args), *kwargs)
        plan = self.plans[layout] if layout in self.plans else self._plan(layout)
        try:
            mkey, nargs = plan.key(args, kwargs)
            entry = plan.entries.get(mkey)
        except (KeyError, TypeError, AttributeError):  # no plan, an unsupported type, an unhashable key value
            return self.original_run(self.tuner, *args, **kwargs)
        tuner = self.tuner
        if entry is None:
            return self._miss(mkey, plan, args, kwargs)
        tkey, config, prefix, suffix, options = entry
        if (tuner.cache.get(tkey) if tkey is not None else tuner.configs[0]) is not config or config.pre_hook is not None:
            return self._miss(mkey, plan, args, kwargs)
        tuner.nargs = nargs  # dict(zip(tuner.arg_names, args)), as Triton sets it
        tuner.best_config = config
        if self.direct and self.intact():
            if self.heuristics:  # Heuristics.run, then the kernel's fast launch
                options = _with_heuristics(self.heuristics, args, {**prefix, **kwargs, **suffix})
            elif plan.params:  # keywords that name parameters, in the call's order
                options = {**prefix, **{k: kwargs[k] for k in plan.params}, **suffix}
            fast = vars(self.kernel).get(_slot.ATTR)  # the layout bound before: straight in
            ret = (fast or partial(self.fast_launch, self.kernel))(kwargs["grid"], *args, **options)
        else:
            if self.direct:  # a run under the tuner was replaced: Autotuner.run calls it, so do we
                _cache.count_fallback("run replaced")
            ret = tuner.fn.run(*args, **prefix, **kwargs, **suffix)
        if tuner.nargs is nargs:  # not another thread's (Triton keeps this per-call state on the tuner)
            tuner.nargs = None
        return ret

    def intact(self) -> bool:
        """Natively ``Autotuner.run`` calls ``self.fn.run``, and each ``Heuristics.run`` its own
        ``fn.run``: the memo's direct launch skips them only while each is Triton's own (none
        replaced on an instance or a class since the memo was made)."""
        return intact(self.kernel) and all(intact(h) for h in self.heuristics)

    # ---------------------------------------------------------------- slow paths
    def _plan(self, layout: Tuple) -> Optional[_Plan]:
        n, names = layout[0], layout[1:]
        arg_names = list(self.tuner.arg_names)
        plan = None
        params = [k for k in names if k not in _LAUNCH_KEYWORDS]
        if n <= len(arg_names) and all(k in arg_names[n:] for k in params) and len(set(params)) == len(params):
            passed = arg_names[:n] + params  # in all_args order
            source = {name: (f"args[{i}]" if i < n else f"kwargs[{name!r}]") for i, name in enumerate(passed)}
            if self.style.by_name:  # 3.2+
                keys = [k for k in self.tuner.keys if k in source]
            else:  # 2.1-3.1: _args[i], _args the passed values in arg_names order
                ordered = [name for name in arg_names if name in source]
                keys = [ordered[i] for i in self.tuner.key_idx] if max(self.tuner.key_idx, default=-1) < len(ordered) else None
            if keys is not None:
                items = [f"(v.dtype if type(v := {source[name]}) is _T else _S[type(v)])" for name in passed]
                items += [source[name] for name in keys]
                # the memo key, and the tuner's nargs (its arg_names zipped with the positional args)
                nargs = ", ".join(f"{name!r}: args[{i}]" for i, name in enumerate(arg_names[:n]))
                lines = ["def memo_key(args, kwargs):", f"    return ({', '.join(items)},), {{{nargs}}}"]
                key = _codegen.make_function("memo_key", lines, {"_T": self.tensor, "_S": _SCALARS},
                                             f"autotune memo key {self.tuner.fn!r} {layout!r}")
                plan = _Plan(key, tuple(params))
        self.plans[layout] = plan
        return plan

    def _miss(self, mkey: Tuple, plan: _Plan, args: tuple, kwargs: dict) -> Any:
        tuner = self.tuner
        with self.lock:
            ret = self.original_run(tuner, *args, **kwargs)  # Triton's own: tunes on a tuning miss
            if len(tuner.configs) > 1:
                tkey = self._tuning_key(args, kwargs)
                config = tuner.cache.get(tkey)
            else:
                tkey, config = None, tuner.configs[0]
            if config is None or config.pre_hook is not None:
                return ret
            prefix, suffix = self._config_keywords(config)
            if set(plan.params) & (set(prefix) | set(suffix)):
                return ret  # Triton raises "multiple values for keyword"; it did, or will
            if len(plan.entries) >= self.max_entries:
                del plan.entries[next(iter(plan.entries))]
            plan.entries[mkey] = (tkey, config, prefix, suffix, {**prefix, **suffix})
        return ret

    def _tuning_key(self, args: tuple, kwargs: dict) -> Tuple:
        """Triton's tuning key for this call, computed as this release's ``Autotuner.run`` does."""
        tuner = self.tuner
        all_args = {**dict(zip(tuner.arg_names, args)), **kwargs}
        if self.style.by_name:  # 3.2+
            passed = {k: v for (k, v) in all_args.items() if k in tuner.arg_names}
            key = [passed[k] for k in tuner.keys if k in passed]
            values = list(passed.values())
        else:  # 2.1-3.1
            values = [all_args[name] for name in tuner.arg_names if name in all_args]
            key = [values[i] for i in tuner.key_idx]
        if self.style.dtypes:  # 2.2+
            key += [str(v.dtype) for v in values if hasattr(v, "dtype")]
        return tuple(key)

    def _config_keywords(self, config: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The config's keywords before and after the call's own, as this release passes them."""
        merge = self.style.merge
        if merge == "all_kwargs":  # 3.0+
            return {}, config.all_kwargs()
        prefix = {"num_warps": config.num_warps, "num_stages": config.num_stages}
        if merge == "v22":  # 2.2-2.3
            prefix.update(num_ctas=config.num_ctas, enable_warp_specialization=config.enable_warp_specialization)
        return prefix, dict(config.kwargs)


def memo_for(tuner: Any, original_run: Any, fast_launch: Any) -> Optional[Memo]:
    """The memo of ``tuner`` (made on first use), or None when the release or kernel has none."""
    memo = vars(tuner).get(MEMO_ATTR)
    if memo is not None:
        return memo
    sel = _select.backend()
    style = style_of(type(tuner))
    if sel.module is None or style is None or not hasattr(tuner, "cache"):
        return None
    try:
        memo = Memo(tuner, style, original_run, sel.module.is_kernel, sel.config.max_entries, fast_launch)
    except Exception as exc:  # tritoncompat's own failure: Triton's own Autotuner.run, counted
        _slot.warn_once(tuner, f"tritoncompat: building the autotuner memo of {tuner!r} raised {exc!r}; its "
                        "launches go through Triton's own Autotuner.run. Please report this.")
        _cache.count_fallback(BUILD_FAILED)
        return None
    return _slot.install_memo(tuner, memo)


def original_run(tuner_type: type) -> Any:
    """Triton's own ``Autotuner.run`` (also while ``patch()`` has replaced it)."""
    run = vars(tuner_type).get("run")
    return getattr(run, "__tritoncompat_original__", run)


def _with_heuristics(chain: List[Any], args: tuple, options: Dict[str, Any]) -> Dict[str, Any]:
    """``Heuristics.run`` of every wrapper in ``chain`` (the same on every release: each value
    computed from the arguments and the keywords so far, ``grid`` included), then the keywords
    the kernel's own ``run`` binds (no ``grid``, no ``warmup``)."""
    for heuristics in chain:
        for name, heuristic in heuristics.values.items():
            options[name] = heuristic({**dict(zip(heuristics.arg_names, args)), **options})
    del options["grid"]
    options.pop("warmup", None)
    return options


@lru_cache(maxsize=None)
def _getitem_passes_warmup() -> bool:
    """2.3+: ``wrapper[grid](...)`` calls ``run(grid=grid, warmup=False, ...)``; 2.1-2.2 pass
    ``grid`` alone."""
    from triton.runtime.jit import KernelInterface

    return "warmup=False" in inspect.getsource(KernelInterface.__getitem__)


def _as_getitem_call(wrapper: Any, body: Any) -> Any:
    """``launch(wrapper, grid, ...)``, calling ``body(args, kwargs)`` with the keywords
    ``wrapper[grid](...)`` hands its ``run``: ``grid=`` first, ``warmup=False`` (2.3+). Through
    ``wrapper.run`` instead when that is not Triton's own (replaced on the instance or the class)."""
    warmup = _getitem_passes_warmup()

    def launch_wrapper(grid, *args, **kwargs):
        if "grid" in kwargs or "warmup" in kwargs:  # Triton's own error (or warmup)
            return wrapper[grid](*args, **kwargs)
        if not intact(wrapper):
            return through_run(wrapper, grid, args, kwargs)
        return body(args, {"grid": grid, "warmup": False, **kwargs} if warmup else {"grid": grid, **kwargs})

    return launch_wrapper


def launcher(tuner: Any, fast_launch: Any) -> Optional[Any]:
    """``launch(tuner, grid, ...)`` through the memo (None: no memo for it)."""
    memo = memo_for(tuner, original_run(type(tuner)), fast_launch)
    return None if memo is None else _as_getitem_call(tuner, memo.run)


def heuristics_launcher(heuristics: Any, fast_launch: Any) -> Optional[Any]:
    """``launch(heuristics_kernel, grid, ...)``: ``Heuristics.run``, then the fast launch of what
    it wraps: a plain JITFunction, an Autotuner (through its memo) or another Heuristics (every
    stack of ``autotune`` / ``heuristics`` over a jit function, as mamba's and fla's kernels are
    built). None when it wraps anything else."""
    sel = _select.backend()
    kernel = getattr(heuristics, "fn", None)
    if sel.module is None or not hasattr(heuristics, "values"):
        return None
    if not (sel.module.is_kernel(kernel) or kind(kernel) in ("autotuner", "heuristics")):
        return None

    def launch_heuristics(args, kwargs):
        grid = kwargs["grid"]
        if not intact(kernel):  # Heuristics.run calls self.fn.run: what replaced it runs
            _cache.count_fallback("run replaced")
            options = dict(kwargs)
            for name, heuristic in heuristics.values.items():
                options[name] = heuristic({**dict(zip(heuristics.arg_names, args)), **options})
            return kernel.run(*args, **options)
        return fast_launch(kernel, grid, *args, **_with_heuristics([heuristics], args, kwargs))

    return _as_getitem_call(heuristics, launch_heuristics)


def patch_targets(fast_launch: Any, switch: Any) -> List[Tuple[Any, str, Any]]:
    """``Autotuner.run`` through the memo, for ``patch()`` (``fast_launch``: ``_launch.fast_launch``;
    ``switch``: off once ``unpatch()`` ran, and this run is then Triton's own)."""
    try:
        from triton.runtime.autotuner import Autotuner
    except ImportError:
        return []
    original = original_run(Autotuner)
    if original is None or style_of(Autotuner) is None:
        return []

    compiling = is_compiling_function()

    def run(self, *args, **kwargs):
        if kwargs.get("warmup") or "grid" not in kwargs or compiling() or not switch.on:
            return original(self, *args, **kwargs)
        memo = vars(self).get(MEMO_ATTR) or memo_for(self, original, fast_launch)
        if memo is None:
            return original(self, *args, **kwargs)
        return memo.run(args, kwargs)

    run.__qualname__ = "Autotuner.run"
    run.__doc__ = original.__doc__
    run.__tritoncompat_original__ = original
    return [(Autotuner, "run", run)]
