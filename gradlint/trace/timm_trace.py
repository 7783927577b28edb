"""``fx-timm``: ``torch.fx`` with timm's own tracing registry, for timm models plain fx cannot follow.

timm marks what fx cannot trace (``timm.layers.register_notrace_function`` /
``register_notrace_module``): helper functions with shape-dependent Python (crossvit's
``scale_image``, mvitv2's ``cal_rel_pos_type``) are autowrapped, i.e. recorded as one call
node each; modules with control flow on shapes (``MobileVitBlock``, twins'
``LocallyGroupedAttn``) can be kept whole as leaves. A leaf is opaque — the layers inside it
are neither seen nor shaped, only its weights' forward order is known — so leaves are added
one at a time, and only a registered module whose ``forward`` is where tracing failed: a model
that traces with the autowrapped functions alone keeps every layer visible.

Applies only to models built from timm's classes; for any other model the method is skipped
(``NotApplicable``), without importing timm.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from gradlint.trace.builder import RawOp
from gradlint.trace.fx_trace import _Tracer, trace_fx
from gradlint.trace.shapes import ForwardFailure


class NotApplicable(Exception):
    """A tracing method that does not apply to this model: skipped, not reported as a failed attempt."""


class _TimmTracer(_Tracer):
    def __init__(self, leaves: tuple[type[nn.Module], ...], functions: Sequence[Callable[..., Any]]) -> None:
        super().__init__()
        self._timm_leaves = leaves
        # What fx.Tracer(autowrap_functions=...) fills: calls to these become single nodes.
        self._autowrap_function_ids.update(id(f) for f in functions)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, self._timm_leaves) or super().is_leaf_module(m, module_qualified_name)


def is_timm_model(model: nn.Module) -> bool:
    """Whether any module of ``model`` is one of timm's classes (timm is then imported already)."""
    if "timm" not in sys.modules:
        return False
    return any(type(m).__module__.split(".")[0] == "timm" for m in model.modules())


def _registry() -> tuple[set[type[nn.Module]], list[Callable[..., Any]]]:
    try:
        from timm.layers import get_notrace_functions, get_notrace_modules
    except ImportError:  # timm < 0.9 kept the registry in timm.models.fx_features
        try:
            from timm.models.fx_features import _autowrap_functions, _leaf_modules  # type: ignore[import-not-found]
        except ImportError as exc:
            raise NotApplicable("this timm version has no fx tracing registry") from exc
        return set(_leaf_modules), list(_autowrap_functions)
    return set(get_notrace_modules()), list(get_notrace_functions())


def trace_fx_timm(model: nn.Module, example_inputs: Sequence[Any]) -> list[RawOp]:
    if not is_timm_model(model):
        raise NotApplicable("not a timm model")
    registered, functions = _registry()
    functions = [f for f in functions if callable(f)]  # timm also accepts names; fx wants the functions
    present = {type(m) for m in model.modules()}
    candidates = [cls for cls in registered if cls in present]
    leaves: list[type[nn.Module]] = []
    while True:
        try:
            return trace_fx(model, example_inputs, tracer=_TimmTracer(tuple(leaves), functions))
        except ForwardFailure:
            raise
        except Exception as exc:  # fx fails in many ways on shape-dependent Python
            culprit = _failing_registered_module(exc, [c for c in candidates if c not in leaves])
            if culprit is None:
                raise
            leaves.append(culprit)


def _failing_registered_module(exc: BaseException, candidates: Sequence[type[nn.Module]]) -> type[nn.Module] | None:
    """The registered module class, innermost on the traceback, whose ``forward`` was running when tracing failed."""
    if not candidates:
        return None
    found: type[nn.Module] | None = None
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if owner is not None and type(owner) in candidates:
            found = type(owner)
        tb = tb.tb_next
    return found

