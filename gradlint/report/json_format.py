"""The JSON report: one document per run, ``schema_version`` 1.

The document is described field by field in ``docs/json-report.md`` and by the JSON Schema
``gradlint/schema/report-v1.json`` (:func:`load_schema`). Within a schema version fields are only
ever added, never renamed or removed.

Numbers: weight ``std`` and ``mean`` keep 4 significant digits, evidence floats 6. A float that is
not finite is written as the string ``"nan"``, ``"inf"`` or ``"-inf"`` everywhere in the document,
so the output is always strict JSON.
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
from gradlint.load.meta import META_NOTE
from gradlint.report.paths import display_path
from gradlint.report.rows import LayerRow, layer_rows, one_line, tally
from gradlint.types import (
    Finding,
    ModelReport,
    Report,
    SourceLocation,
    TargetError,
    WeightInfo,
    dtype_name,
)

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "schema/report-v1.json"
"""The schema of this version, relative to the ``gradlint`` package."""

STATS_DIGITS = 4
"""Significant digits of weight statistics (``std``, ``mean``)."""
EVIDENCE_DIGITS = 6
"""Significant digits of evidence floats."""


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
        },
    }


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every document of this version validates against."""
    text = resources.files("gradlint").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_float(value: float, digits: int) -> float | str:
    """``value`` rounded to ``digits`` significant digits, or ``"nan"`` / ``"inf"`` / ``"-inf"``."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(f"{value:.{digits}g}")


def log10_value(value: float | None) -> float | str | None:
    """A log10 figure to 4 decimals; None stays null and non-finite values become strings."""
    if value is None:
        return None
    if not math.isfinite(value):
        return json_float(value, 4)
    return round(value, 4)


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
        return json_float(value, EVIDENCE_DIGITS)
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
        "inputs": [{"shape": list(i.shape), "dtype": i.dtype, "origin": i.origin} for i in graph.inputs],
        "parameters": graph.parameter_count,
        "training": graph.training,
        "layers": [_layer(row, model) for row in layer_rows(graph)],
        "weights": [_weight(w, model) for w in graph.weights],
        "findings": [_finding(f) for f in model.findings],
        **({"meta": {"reason": graph.meta, "note": META_NOTE}} if graph.meta is not None else {}),
        **_estimate(model),
        **_probe(model),
    }


def _estimate(model: ModelReport) -> dict[str, Any]:
    est = model.estimates
    if est is None:
        return {}
    return {
        "verdict": est.verdict.verdict,
        "verdict_reason": est.verdict.reason,
        "uncertain": [{"node": name, "reason": reason} for name, reason in est.uncertain],
    }


def _probe(model: ModelReport) -> dict[str, Any]:
    if model.probe_skipped is not None:
        return {"probe_skipped": model.probe_skipped}
    if model.probe is None:
        return {}
    return {"probe_verdict": model.probe.verdict, "probe": model.probe.to_dict()}


def _layer(row: LayerRow, model: ModelReport) -> dict[str, Any]:
    node, weight = row.node, row.weight
    predicted: dict[str, Any] = {}
    if model.estimates is not None:
        estimate_ = _node_estimates(model).get(node.name)
        if estimate_ is not None:
            predicted = {
                "pred_forward_rms": _finite_or_none(estimate_.forward_rms),
                "pred_backward_gain": _finite_or_none(estimate_.backward_gain),
            }
    stats = model.graph.params.get(weight.name) if weight is not None else None
    spectral = {
        "spectral_norm": _finite_or_none(stats.spectral_norm) if stats is not None else None,
        "spectral_radius": _finite_or_none(stats.spectral_radius) if stats is not None else None,
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
        "std": json_float(weight.std, STATS_DIGITS) if weight is not None else None,
        "calls": node.call_count,
        "location": _location(node.location, col=False) if node.location is not None else None,
        **spectral,
        **predicted,
    }


def _node_estimates(model: ModelReport) -> dict[str, Any]:
    return {n.name: n for n in model.estimates.nodes} if model.estimates is not None else {}


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


def _weight(weight: WeightInfo, model: ModelReport) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    if model.probe is not None:
        probed = {w.name: w for w in model.probe.weights}.get(weight.name)
        value = probed.log10_grad_rms if probed is not None else None
        # null: blocked (exactly zero gradient) or not measured; "nan": a non-finite gradient
        measured["probe_log10_grad_rms"] = log10_value(value)
    if model.estimates is not None:
        predicted = {w.name: w for w in model.estimates.weights}.get(weight.name)
        if predicted is not None:
            measured["pred_log10_grad_rms"] = log10_value(predicted.log10_grad_rms)
            measured["pred_log10_band"] = [round(b, 4) for b in predicted.band] if predicted.band else None
    return {
        "name": weight.name,
        "module": weight.module,
        "type": weight.module_type,
        "shape": list(weight.shape),
        "init": weight.init.scheme,
        "init_source": weight.init.source,
        "init_calls": list(weight.init.calls),
        "std": json_float(weight.std, STATS_DIGITS),
        "mean": json_float(weight.mean, STATS_DIGITS),
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
    }


def _location(location: SourceLocation, *, col: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {"path": display_path(location.path), "line": location.line}
    if col:
        shown["col"] = location.col
    return shown


def _error(error: TargetError) -> dict[str, str]:
    return {"target": error.target, "message": error.message}
