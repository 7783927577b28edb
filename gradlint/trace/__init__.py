"""Trace stage: ``LoadedModel`` -> ``ModelGraph``.

Methods are tried in order and the graph records which one worked and why the
earlier ones did not:

1. ``fx``: ``torch.fx`` symbolic tracing (no forward), shapes propagated on the meta device;
   a graph where a wrapped function (``torch.fx.wrap``) takes weights is refused, as it would
   hide their layers; ``fx-timm``: the same with the functions timm registers as untraceable
   autowrapped, for timm models only (skipped for others, see ``timm_trace``);
2. ``export``: ``torch.export`` non-strict, for Python fx cannot follow (Hugging Face models);
3. ``hooks``: one real forward on a private copy, watched by module hooks and a
   ``TorchFunctionMode``; follows data-dependent control flow.

On the meta device the order is fx, fx-timm, hooks, export: a forward on meta tensors computes
nothing, so the hooks take a fraction of export's time (GPT-2: 0.5 s against 4 s, the same
predictions), which is what makes an 80-layer model quick to lint.

The user's model is never changed: tracing works on copies that share its
parameters but own their buffers (see ``copies``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from gradlint.errors import InputError, TraceError
from gradlint.load.meta import is_meta
from gradlint.trace.builder import RawOp, build_nodes
from gradlint.trace.export_trace import trace_export
from gradlint.trace.fx_trace import trace_fx
from gradlint.trace.hook_trace import trace_hooks
from gradlint.trace.shapes import ForwardFailure
from gradlint.trace.timm_trace import NotApplicable, trace_fx_timm
from gradlint.trace.stats import collect_param_stats
from gradlint.trace.weights import collect_weights, tensor_health
from gradlint.types import LoadedModel, ModelGraph, TraceAttempt, TraceInfo, frozen_mapping, nearest_site

Tracer = Callable[[nn.Module, Sequence[Any]], list[RawOp]]
METHODS: tuple[tuple[str, Tracer], ...] = (
    ("fx", trace_fx),
    ("fx-timm", trace_fx_timm),
    ("export", trace_export),
    ("hooks", trace_hooks),
)
META_METHODS = tuple(sorted(METHODS, key=lambda method: method[0] == "export"))
"""``METHODS`` with export last: the order for a model on the meta device."""


def trace_model(loaded: LoadedModel, methods: Sequence[str] | None = None) -> ModelGraph:
    """Trace ``loaded.model`` with the first method that works (or only those named in ``methods``)."""
    failed: list[TraceAttempt] = []
    raw: list[RawOp] | None = None
    used = ""
    on_meta = is_meta(loaded.model)
    for name, tracer in META_METHODS if on_meta else METHODS:
        if methods is not None and name not in methods:
            continue
        try:
            raw = tracer(loaded.model, loaded.example_inputs)
            used = name
            break
        except ForwardFailure as failure:
            raise InputError(_inputs_do_not_fit(loaded, failure)) from failure
        except NotApplicable:
            continue
        except Exception as exc:  # a tracer may fail in any way on arbitrary user code
            failed.append(TraceAttempt(name, _one_line(exc)))
    if raw is None:
        reasons = "; ".join(f"{a.method}: {a.error}" for a in failed)
        raise TraceError(f"{loaded.target}: could not trace the model ({reasons})")

    model = loaded.model
    nodes = build_nodes(raw, model, loaded.construction_sites)
    params = collect_param_stats(model, nodes, loaded.init_records)
    return ModelGraph(
        target=loaded.target,
        name=loaded.name,
        source_path=loaded.source_path,
        trace=TraceInfo(used, tuple(failed)),
        inputs=loaded.inputs,
        nodes=nodes,
        weights=collect_weights(model, nodes, loaded.init_records, params),
        tensors=tensor_health(model),
        params=frozen_mapping(params),
        module_types=frozen_mapping({path: type(m).__name__ for path, m in model.named_modules()}),
        module_locations=frozen_mapping(
            {path: site for path, _ in model.named_modules() if (site := nearest_site(path, loaded.construction_sites)) is not None}
        ),
        parameter_count=sum(p.numel() for p in model.parameters()),
        training=model.training,
        meta=loaded.meta or ("its weights are on the meta device" if on_meta else None),
    )


def _inputs_do_not_fit(loaded: LoadedModel, failure: ForwardFailure) -> str:
    shapes = ", ".join(f"{tuple(spec.shape)} {spec.dtype}" for spec in loaded.inputs) or "none"
    where = f" in layer {failure.module}" if failure.module else ""
    if failure.module:
        module_type = type(loaded.model.get_submodule(failure.module)).__name__
        where += f" ({module_type})"
    at = f" at {failure.location}" if failure.location else ""
    origin = loaded.inputs[0].origin if loaded.inputs else "example inputs"
    return (
        f"{loaded.target}: the example inputs ({shapes}; {origin}) do not fit the model: "
        f"{_one_line(failure.error)}{where}{at}; pass --input-shape or define example_inputs()"
    )


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
