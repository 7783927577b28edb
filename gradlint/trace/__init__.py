"""Trace stage: ``LoadedModel`` -> ``ModelGraph``.

Methods are tried in order and the graph records which one worked and why the
earlier ones did not:

1. ``fx``: ``torch.fx`` symbolic tracing (no forward), shapes propagated on the meta device;
   a graph where a wrapped function (``torch.fx.wrap``) takes weights is refused, as it would
   hide their layers; ``fx-timm``: the same with the functions timm registers as untraceable
   autowrapped, for timm models only (skipped for others, see ``timm_trace``);
2. ``hooks``: one forward on a private copy, watched by module hooks and a ``TorchFunctionMode``;
   follows any Python, data-dependent control flow included (the branch the example inputs take);
3. ``export``: ``torch.export`` non-strict. Hooks come first because they cost one forward where
   export costs seconds of fake-tensor tracing (GPT-2: 0.3 s against 1.6-2.5 s, the same
   predictions on the architecture group); export is the fallback when the hooks' forward never
   read a parameter (a branch the inputs did not take, or a read the mode cannot see), and its
   graph is kept only if it reads more of them.

The user's model is never changed: tracing works on copies that share its
parameters but own their buffers (see ``copies``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from gradlint.errors import InputError, TraceError
from gradlint.load.meta import is_meta
from gradlint.trace.builder import RawOp, build_nodes
from gradlint.trace.export_trace import trace_export
from gradlint.trace.failures import forward_failure_message, internal_error_text, internal_tracer_failure, one_line
from gradlint.trace.fx_trace import trace_fx
from gradlint.trace.hook_trace import trace_hooks
from gradlint.trace.shapes import ForwardFailure
from gradlint.trace.stats import collect_param_stats
from gradlint.trace.timm_trace import NotApplicable, trace_fx_timm
from gradlint.trace.weights import collect_weights, tensor_health
from gradlint.types import LoadedModel, ModelGraph, TraceAttempt, TraceInfo, frozen_mapping, nearest_site

Tracer = Callable[[nn.Module, Sequence[Any], Mapping[str, Any]], list[RawOp]]
METHODS: tuple[tuple[str, Tracer], ...] = (
    ("fx", trace_fx),
    ("fx-timm", trace_fx_timm),
    ("hooks", trace_hooks),
    ("export", trace_export),
)


def trace_model(loaded: LoadedModel, methods: Sequence[str] | None = None, operator_norms: bool = False) -> ModelGraph:
    """Trace ``loaded.model`` with the first method that works (or only those named in ``methods``).

    ``operator_norms``: also take the operator norm of every convolution applied once (see
    ``collect_param_stats``)."""
    failed: list[TraceAttempt] = []
    raw: list[RawOp] | None = None
    used = ""
    chosen = [(name, tracer) for name, tracer in METHODS if methods is None or name in methods]
    internal: str | None = None
    """The first failure inside gradlint's own code: reported as a bug when no method succeeds."""
    held: tuple[str, list[RawOp], int] | None = None
    """A graph that missed parameters while a later method remained: (method, ops, parameters missed)."""
    for position, (name, tracer) in enumerate(chosen):
        try:
            attempt = tracer(loaded.model, loaded.example_inputs, loaded.example_kwargs)
        except ForwardFailure as failure:
            if not needs_values(failure, loaded.model):
                raise InputError(forward_failure_message(loaded, failure)) from failure
            # A meta model's forward read a value (``.item()`` on a padding mask): not the inputs' fault, and
            # export's fake tensors make such code take its tracing branch, so the next method may well work.
            failed.append(TraceAttempt(name, one_line(failure.error)))
            continue
        except NotApplicable:
            continue
        except Exception as exc:  # a tracer may fail in any way on arbitrary user code
            failed.append(TraceAttempt(name, one_line(exc)))
            where = internal_tracer_failure(exc)
            if where is not None and internal is None:
                internal = internal_error_text(loaded.target, name, exc, where)
            continue
        missed = unread_parameters(attempt, loaded.model) if name == "hooks" else []
        if missed and position + 1 < len(chosen):
            held = (name, attempt, len(missed))
            failed.append(TraceAttempt(name, _missed_line(missed)))
            continue
        if held is not None and len(unread_parameters(attempt, loaded.model)) >= held[2]:
            break  # the later method saw no more of them: keep the held graph
        raw, used = attempt, name
        break
    if raw is None and held is not None:
        used, raw, _ = held
        failed = [a for a in failed if a.method != used]
    if raw is None and internal is not None:
        raise TraceError(internal)
    if raw is None:
        reasons = "; ".join(f"{a.method}: {a.error}" for a in failed)
        raise TraceError(f"{loaded.target}: could not trace the model ({reasons})")
    on_meta = is_meta(loaded.model)

    model = loaded.model
    nodes = build_nodes(raw, model, loaded.construction_sites)
    params = collect_param_stats(model, nodes, loaded.init_records, operator_norms)
    return ModelGraph(
        target=loaded.target,
        name=loaded.name,
        source_path=loaded.source_path,
        trace=TraceInfo(used, tuple(failed)),
        inputs=loaded.inputs,
        nodes=nodes,
        weights=collect_weights(model, nodes, loaded.init_records, params),
        tensors=tensor_health(model, params),
        params=frozen_mapping(params),
        module_types=frozen_mapping({path: type(m).__name__ for path, m in model.named_modules()}),
        module_locations=frozen_mapping(
            {
                path: site
                for path, _ in model.named_modules()
                if (site := nearest_site(path, loaded.construction_sites)) is not None
            }
        ),
        parameter_count=sum(p.numel() for p in model.parameters()),
        training=model.training,
        meta=loaded.meta or ("its weights are on the meta device" if on_meta else None),
        built=loaded.built,
    )


def unread_parameters(raw: Sequence[RawOp], model: nn.Module) -> list[str]:
    """Trainable parameters the graph never reads: neither a ``get_attr`` nor inside a called layer.

    A tied parameter (T5's ``shared`` embedding, used as ``encoder.embed_tokens``) is read when any of its names is.
    """
    read = {op.target for op in raw if op.op == "get_attr"}
    called = {op.module for op in raw if op.op == "call_module" and op.module is not None}
    names: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if parameter.requires_grad:
            names.setdefault(id(parameter), []).append(name)
    return [aliases[0] for aliases in names.values() if not any(_is_read(name, read, called) for name in aliases)]


def _is_read(name: str, read: set[str], called: set[str]) -> bool:
    if name in read:
        return True
    owner = name.rpartition(".")[0]
    while owner and owner not in called:
        owner = owner.rpartition(".")[0]
    return bool(owner)


def needs_values(failure: ForwardFailure, model: nn.Module) -> bool:
    """Whether a forward failed because the model is on the meta device and the code read a tensor's value."""
    text = str(failure.error)
    markers = ("meta tensor", "on the meta device", "data-dependent", "register_meta")  # the last: torch.nonzero
    return is_meta(model) and any(marker in text for marker in markers)


def _missed_line(missed: Sequence[str]) -> str:
    shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
    return f"its forward never read {len(missed)} parameter{'s' if len(missed) != 1 else ''} ({shown})"
