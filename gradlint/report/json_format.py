"""The JSON report: one document per run, ``schema_version`` 1.

The document is described field by field in ``docs/json-report.md`` and by the JSON Schema
``gradlint/schema/report-v1.json`` (:func:`load_schema`). Within a schema version fields are only
ever added, never renamed or removed.

Numbers go through one helper, :func:`json_number`: weight ``std`` and ``mean`` keep 4 significant
digits, evidence floats and losses 6, log10 figures 4 decimals. A float that is not finite is written as
the string ``"nan"``, ``"inf"`` or ``"-inf"`` everywhere in the document (the probe's object included),
so the output is always strict JSON; null means "no value" (blocked, not measured, not applicable).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from enum import Enum
from importlib import resources
from typing import Any

import torch

from gradlint._version import __version__
from gradlint.report.paths import display_path
from gradlint.report.precision import precision_dict
from gradlint.report.rows import LayerRow, layer_rows, one_line, tally
from gradlint.types import (
    Finding,
    InputSpec,
    ModelReport,
    NonFiniteSite,
    ProbeResult,
    Report,
    SourceLocation,
    TargetError,
    WeightInfo,
    dtype_name,
)
from gradlint.types.estimates import Coverage
from gradlint.types.graph import META_NOTE
from gradlint.types.probe import Agreement

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "schema/report-v1.json"
"""The schema of this version, relative to the ``gradlint`` package."""

STATS_DIGITS = 4
"""Significant digits of weight statistics (``std``, ``mean``)."""
EVIDENCE_DIGITS = 6
"""Significant digits of evidence floats (and of probe losses)."""
LOG10_DECIMALS = 4
"""Decimal places of log10 figures (and of the probe's fractions)."""


def format_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as a JSON document (no trailing newline)."""
    return json.dumps(report_to_dict(report), indent=indent, allow_nan=False)


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-safe Python values, keys in documented order."""
    counts = tally(report)
    return {
        "schema_version": SCHEMA_VERSION,
        "gradlint_version": __version__,
        "models": [_model(m) for m in report.models],
        "errors": [_error(e) for e in report.errors],
        "summary": {
            "models": counts.models,
            "findings": counts.findings,
            "errors": counts.errors,
            "by_severity": {s.value: n for s, n in counts.by_severity.items()},
            "by_code": counts.by_code,
            "models_uncertain": counts.models_uncertain,
        },
    }


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every document of this version validates against."""
    text = resources.files("gradlint").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_number(value: float | None, digits: int, *, decimals: bool = False) -> float | str | None:
    """The document's one rounding: ``digits`` significant digits (``decimals``: decimal places).

    None stays null; NaN and ±inf become ``"nan"``, ``"inf"``, ``"-inf"``.
    """
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return round(value, digits) if decimals else float(f"{value:.{digits}g}")


def _log10(value: float | None) -> float | str | None:
    return json_number(value, LOG10_DECIMALS, decimals=True)


def json_value(value: Any) -> Any:
    """A JSON-safe copy of an evidence value: numbers, strings, booleans, null, lists and objects.

    Tensors and NumPy values become numbers or lists, enums their value, dtypes their name,
    locations ``{"path", "line", "col"}``, other dataclasses objects; anything else its ``str``.
    """
    if isinstance(value, Enum):
        return json_value(value.value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return json_number(value, EVIDENCE_DIGITS)
    if isinstance(value, torch.dtype):
        return dtype_name(value)
    if isinstance(value, SourceLocation):
        return _location(value, col=True)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_value(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "tolist"):  # torch.Tensor, torch.Size, NumPy arrays and scalars
        return json_value(value.tolist())
    return str(value)


def _model(model: ModelReport) -> dict[str, Any]:
    graph = model.graph
    return {
        "target": graph.target,
        "name": graph.name,
        "source": display_path(graph.source_path),
        "trace": {
            "method": graph.trace.method,
            "fallbacks": [{"method": a.method, "error": one_line(a.error)} for a in graph.trace.failed],
        },
        "inputs": [_input(i) for i in graph.inputs],
        **({"built": graph.built} if graph.built is not None else {}),
        "parameters": graph.parameter_count,
        "train_mode": graph.training,
        "training": _training(model),
        "layers": [_layer(row, model) for row in layer_rows(graph)],
        "weights": [_weight(w, model) for w in graph.weights],
        "findings": [_finding(f) for f in model.findings],
        **({"meta": {"reason": graph.meta, "note": META_NOTE}} if graph.meta is not None else {}),
        **_estimate(model),
        **_probe(model),
        **precision_dict(model),
    }


def _input(spec: InputSpec) -> dict[str, Any]:
    named = {"name": spec.name} if spec.name is not None else {}
    return {"shape": list(spec.shape), "dtype": spec.dtype, "origin": spec.origin, **named}


def _estimate(model: ModelReport) -> dict[str, Any]:
    est = model.estimates
    if est is None:
        return {}
    return {
        "verdict": est.verdict.verdict,
        "verdict_reason": est.verdict.reason,
        "uncertain": [{"node": name, "reason": reason} for name, reason in est.uncertain],
        "coverage": _coverage(est.coverage),
    }


def _coverage(coverage: Coverage) -> dict[str, Any]:
    return {
        "fraction": round(coverage.fraction, 4),
        "low": coverage.low,
        "ops": coverage.ops,
        "ops_covered": coverage.ops_covered,
        "weights": coverage.weights,
        "weights_covered": coverage.weights_covered,
        "missing_ops": [{"op": kind, "count": count} for kind, count in coverage.missing],
        "uncovered_by": {name: list(kinds) for name, kinds in coverage.uncovered_by.items()},
    }


def _training(model: ModelReport) -> dict[str, Any] | None:
    """The training check (DESIGN §2b): the optimizer, the predicted verdict and numbers, and the measured
    verdict when ``--probe-steps`` ran; null when no estimate ran."""
    check = model.estimates.training if model.estimates is not None else None
    if check is None:
        return None
    opt = check.optimizer
    steps = model.probe.steps if model.probe is not None else None
    return {
        "optimizer": opt.name,
        "lr": opt.lr,
        "momentum": opt.momentum,
        "betas": list(opt.betas) if opt.betas is not None else None,
        "eps": opt.eps,
        "weight_decay": opt.weight_decay,
        "clip_grad_norm": opt.clip_grad_norm,
        "default_optimizer": opt.default,
        "steps": check.steps,
        "verdict": check.verdict,
        "reason": check.reason,
        "uncertain": check.uncertain,
        "max_update_ratio": json_number(check.max_update_ratio, STATS_DIGITS),
        "step_change": json_number(check.step_change, STATS_DIGITS),
        "median_update_ratio": json_number(check.median_update_ratio, STATS_DIGITS),
        "global_grad_norm": json_number(check.global_grad_norm, STATS_DIGITS),
        "max_lr": check.max_lr,
        "recommended_clip_grad_norm": check.recommended_clip_grad_norm,
        "weights": [
            {
                "name": w.name,
                "update_ratio": json_number(w.update_ratio, STATS_DIGITS) if w.update_ratio is not None else None,
                "grad_rms": json_number(w.grad_rms, STATS_DIGITS) if w.grad_rms is not None else None,
                "below_eps": w.below_eps,
            }
            for w in check.weights
        ],
        **(
            {
                "measured_verdict": steps.verdict,
                "measured_loss_ratio": json_number(steps.loss_ratio, STATS_DIGITS)
                if steps.loss_ratio is not None
                else None,
                "measured_steps": steps.steps,
            }
            if steps is not None
            else {}
        ),
    }


def _probe(model: ModelReport) -> dict[str, Any]:
    if model.probe_skipped is not None:
        return {"probe_skipped": model.probe_skipped}
    if model.probe_error is not None:
        return {"probe": {"error": one_line(model.probe_error)}}
    if model.probe is None:
        return {}
    found = {"disagreement": _disagreement(model.agreement)} if model.agreement is not None else {}
    return {"probe_verdict": model.probe.verdict, "probe": probe_to_dict(model.probe), **found}


def _disagreement(found: Agreement) -> dict[str, Any]:
    return {
        "threshold": found.threshold,
        "weights": found.weights,
        "count": found.count,
        "items": [
            {
                "name": d.name,
                "kind": d.kind,
                "predicted": _log10(d.predicted),
                "measured": _log10(d.measured),
                "difference": _log10(d.difference),
            }
            for d in found.disagreements
        ],
    }


def _layer(row: LayerRow, model: ModelReport) -> dict[str, Any]:
    node, weight = row.node, row.weight
    predicted: dict[str, Any] = {}
    if model.estimates is not None:
        estimate_ = model.estimates.nodes_by_name.get(node.name)
        if estimate_ is not None:
            predicted = {
                "pred_forward_rms": json_number(estimate_.forward_rms, STATS_DIGITS),
                "pred_backward_gain": json_number(estimate_.backward_gain, STATS_DIGITS),
            }
    stats = model.graph.params.get(weight.name) if weight is not None else None
    spectral = {
        "spectral_norm": json_number(stats.spectral_norm, STATS_DIGITS) if stats is not None else None,
        "spectral_radius": json_number(stats.spectral_radius, STATS_DIGITS) if stats is not None else None,
    }
    return {
        "name": node.name,
        "module": node.module,
        "type": node.module_type,
        "role": node.role,
        "output_shape": list(node.shape) if node.shape is not None else None,
        "params": node.params,
        "activation": row.activation,
        "init": weight.init.scheme if weight is not None else None,
        "std": json_number(weight.std, STATS_DIGITS) if weight is not None else None,
        "calls": node.call_count,
        "location": _location(node.location, col=False) if node.location is not None else None,
        **spectral,
        **predicted,
    }


def _weight(weight: WeightInfo, model: ModelReport) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    if model.probe is not None:
        probed = model.probe.weights_by_name.get(weight.name)
        value = probed.log10_grad_rms if probed is not None else None
        # null: blocked (exactly zero gradient) or not measured; "nan": a non-finite gradient
        measured["probe_log10_grad_rms"] = _log10(value)
    if model.estimates is not None:
        predicted = model.estimates.weights_by_name.get(weight.name)
        if predicted is not None:
            measured["pred_log10_grad_rms"] = _log10(predicted.log10_grad_rms)
            measured["pred_log10_band"] = [_log10(b) for b in predicted.band] if predicted.band else None
    return {
        "name": weight.name,
        "module": weight.module,
        "type": weight.module_type,
        "shape": list(weight.shape),
        "init": weight.init.scheme,
        "init_source": weight.init.source,
        "init_calls": list(weight.init.calls),
        "std": json_number(weight.std, STATS_DIGITS),
        "mean": json_number(weight.mean, STATS_DIGITS),
        **measured,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    fix = finding.fix
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "kind": finding.kind,
        "message": finding.message,
        "module": finding.module,
        "location": _location(finding.location, col=True) if finding.location is not None else None,
        "fix": {"description": fix.description, "code": fix.code} if fix is not None else None,
        "evidence": {str(k): json_value(v) for k, v in finding.evidence.items()},
        "confirmed": finding.confirmed,
        "related": [
            {
                "code": r.code,
                "severity": r.severity.value,
                "module": r.module,
                "location": _location(r.location, col=True) if r.location is not None else None,
                "message": r.message,
                "confirmed": r.confirmed,
            }
            for r in finding.related
        ],
    }


def _location(location: SourceLocation, *, col: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {"path": display_path(location.path), "line": location.line}
    if col:
        shown["col"] = location.col
    return shown


def _error(error: TargetError) -> dict[str, Any]:
    return {
        "target": error.target,
        "stage": error.stage,
        "message": one_line(error.message),
        "internal": error.internal,
        "how_to_report": error.how_to_report,
    }


def probe_to_dict(result: ProbeResult) -> dict[str, Any]:
    """The probe's measurement as the ``probe`` object of a model (and of ``ProbeResult``'s JSON)."""
    d = result.verdict_details
    return {
        "verdict": result.verdict,
        "verdict_reason": result.verdict_reason,
        "span": _log10(d.span),
        "max": _log10(d.max_value),
        "min": _log10(d.min_value),
        "first_weight": d.first_weight,
        "last_weight": d.last_weight,
        "thresholds": {
            "explode_max": result.thresholds.explode_max,
            "vanish_min": result.thresholds.vanish_min,
            "explode_span": result.thresholds.explode_span,
            "vanish_span": result.thresholds.vanish_span,
        },
        "device": result.device,
        "seeds": list(result.seeds),
        "output": result.output,
        "output_shape": list(result.output_shape),
        "weights": [
            {
                "name": w.name,
                "module": w.module,
                "module_type": w.module_type,
                "shape": list(w.shape),
                "forward_index": w.forward_index,
                "log10_grad_rms": _log10(w.log10_grad_rms),
                "per_seed": [_log10(v) for v in w.per_seed],
                "blocked": w.blocked,
                "nonfinite": w.nonfinite,
            }
            for w in result.weights
        ],
        "activations": [
            {
                "module": a.module,
                "module_type": a.module_type,
                "forward_index": a.forward_index,
                "log10_rms": _log10(a.log10_rms),
                "dead_fraction": _log10(a.dead_fraction),
                "nonfinite": a.nonfinite,
                "shape": list(a.shape),
            }
            for a in result.activations
        ],
        "first_nonfinite": _site(result.first_nonfinite),
        "nonfinite_sites": [_site(s) for s in result.nonfinite_sites],
        "steps": None
        if result.steps is None
        else {
            "steps": result.steps.steps,
            "lr": result.steps.lr,
            "optimizer": result.steps.optimizer.name,
            # losses span many decades: significant digits rather than decimals
            "losses": [json_number(v, EVIDENCE_DIGITS) for v in result.steps.losses],
            "verdict": result.steps.verdict,
            "loss_ratio": json_number(result.steps.loss_ratio, EVIDENCE_DIGITS)
            if result.steps.loss_ratio is not None
            else None,
            "diverged": result.steps.diverged,
            "reason": result.steps.reason,
        },
        "memory": None
        if result.memory is None
        else {
            "needed_bytes": result.memory.needed_bytes,
            "weights_bytes": result.memory.weights_bytes,
            "activations_bytes": result.memory.activations_bytes,
            "available_bytes": result.memory.available_bytes,
            "source": result.memory.source,
            "available_source": result.memory.available_source,
        },
        "wall_time_s": json_number(result.wall_time_s, 3, decimals=True),
    }


def _site(site: NonFiniteSite | None) -> dict[str, Any] | None:
    if site is None:
        return None
    return {
        "phase": site.phase,
        "module": site.module,
        "module_type": site.module_type,
        "what": site.what,
        "seed": site.seed,
    }
