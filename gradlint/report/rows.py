"""What every format shows for a model: the layer rows and the finding counts.

Lookups only: both formats read the same rows so the text table and the JSON ``layers`` agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from gradlint.types import Finding, LayerNode, ModelGraph, Report, Severity, WeightInfo

#: Severities in the order summaries list them, most severe first.
SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)


@dataclass(frozen=True)
class LayerRow:
    """One module call of a model, the row of the layer table."""

    node: LayerNode
    activation: str | None
    """The node's own activation for an activation layer, else the activation its output feeds."""
    weight: WeightInfo | None
    """The first weight the node's module owns directly, if any."""


def layer_rows(graph: ModelGraph) -> tuple[LayerRow, ...]:
    """One row per ``call_module`` node, in execution order."""
    first_weight: dict[str, WeightInfo] = {}
    for weight in graph.weights:
        first_weight.setdefault(weight.module, weight)
    return tuple(
        LayerRow(
            node=node,
            activation=node.activation or node.feeds_activation,
            weight=first_weight.get(node.module) if node.module is not None else None,
        )
        for node in graph.layer_nodes()
    )


@dataclass(frozen=True)
class Tally:
    """Counts over a whole report."""

    models: int
    models_with_findings: int
    findings: int
    errors: int
    """Targets that could not be linted (``TargetError``), not error-severity findings."""
    by_severity: dict[Severity, int]
    """Every severity, in ``SEVERITY_ORDER``, zero included."""
    by_code: dict[str, int]
    """Codes that occur, sorted."""
    models_uncertain: int = 0
    """Models whose estimate covered too little of them to be trusted (``Coverage.low``)."""


def tally(report: Report) -> Tally:
    findings = report.findings
    severities = Counter(f.severity for f in findings)
    codes = Counter(f.code for f in findings)
    return Tally(
        models=len(report.models),
        models_with_findings=sum(1 for m in report.models if m.findings),
        findings=len(findings),
        errors=len(report.errors),
        by_severity={s: severities[s] for s in SEVERITY_ORDER},
        by_code=dict(sorted(codes.items())),
        models_uncertain=sum(1 for m in report.models if m.estimates is not None and m.estimates.coverage.low),
    )


def one_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped: how a multi-line error message is shown."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def probe_outcome(finding: Finding) -> str:
    """`` (probe: confirmed)`` / `` (probe: refuted)`` after a finding's message; empty when no probe judged it."""
    if finding.confirmed is None:
        return ""
    return f" (probe: {'confirmed' if finding.confirmed else 'refuted'})"
