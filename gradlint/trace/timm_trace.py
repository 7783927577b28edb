"""``fx-timm``: ``torch.fx`` with the functions timm registers as untraceable kept whole.

timm marks helper functions with shape-dependent Python (crossvit's ``scale_image``, nest's
``deblockify``, mvitv2's ``cal_rel_pos_type``) with ``timm.layers.register_notrace_function``;
fx autowraps them here, recording each call as one node, and traces everything else as plain
fx does. A wrapped function that takes weights (mvitv2's relative positions) would hide them:
``trace_fx`` refuses that graph, and ``export`` traces the model instead.

timm also registers modules to keep whole (``register_notrace_module``: ``MobileVitBlock``,
twins' ``LocallyGroupedAttn``). Those are *not* used: a leaf is opaque — the layers inside it
are neither seen nor shaped, so their gradients cannot be estimated (48 of mobilevit_xxs's 72
weights, 18 of twins_svt_small's 97) — and ``export``, next in the chain, traces those models
completely in a few seconds more.

Applies only to models built from timm's classes; for any other model the method is skipped
(``NotApplicable``), without importing timm.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from gradlint.trace.builder import RawOp
from gradlint.trace.fx_trace import _Tracer, trace_fx


class NotApplicable(Exception):
    """A tracing method that does not apply to this model: skipped, not reported as a failed attempt."""


class _TimmTracer(_Tracer):
    def __init__(self, functions: Sequence[Callable[..., Any]]) -> None:
        super().__init__()
        # What fx.Tracer(autowrap_functions=...) fills: calls to these become single nodes.
        self._autowrap_function_ids.update(id(f) for f in functions)


def is_timm_model(model: nn.Module) -> bool:
    """Whether any module of ``model`` is one of timm's classes (timm is then imported already)."""
    if "timm" not in sys.modules:
        return False
    return any(type(m).__module__.split(".")[0] == "timm" for m in model.modules())


def notrace_functions() -> list[Callable[..., Any]]:
    """The functions timm registered as untraceable (timm < 0.9 kept them in ``timm.models.fx_features``)."""
    try:
        from timm.layers import get_notrace_functions
    except ImportError:
        try:
            from timm.models.fx_features import _autowrap_functions  # type: ignore[import-not-found]
        except ImportError as exc:
            raise NotApplicable("this timm version has no fx tracing registry") from exc
        functions = list(_autowrap_functions)
    else:
        functions = list(get_notrace_functions())
    return [f for f in functions if callable(f)]  # timm also accepts names; fx wants the functions


def trace_fx_timm(
    model: nn.Module, example_inputs: Sequence[Any], example_kwargs: Mapping[str, Any] | None = None
) -> list[RawOp]:
    if not is_timm_model(model):
        raise NotApplicable("not a timm model")
    return trace_fx(model, example_inputs, example_kwargs, tracer=_TimmTracer(notrace_functions()))
