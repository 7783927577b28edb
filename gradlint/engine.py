"""Run the selected rules over one model's graph and turn their hits into findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gradlint.registry import Rule
from gradlint.rulekit import RuleContext
from gradlint.types import Estimates, Finding, ModelGraph, RelatedLocation, Severity, nearest_site


def run_rules(
    graph: ModelGraph, estimates: Estimates, rules: Sequence[Rule], options: Any = None
) -> tuple[Finding, ...]:
    context = RuleContext(graph, estimates, options)  # one per model: the rules share its view's walks
    findings = []
    for rule in rules:
        for hit in rule.check(context):
            location = hit.location
            if location is None and hit.module is not None:
                location = nearest_site(hit.module, graph.module_locations)
            findings.append(
                Finding(
                    code=rule.code,
                    name=rule.name,
                    severity=hit.severity or rule.severity,
                    kind=rule.kind,
                    message=hit.message,
                    module=hit.module,
                    location=location,
                    fix=hit.fix,
                    evidence=hit.evidence,
                )
            )
    return tuple(sorted(findings, key=_order))


def _order(finding: Finding) -> tuple[str, int, int, str]:
    loc = finding.location
    return (loc.path if loc else "", loc.line if loc else 0, loc.col if loc else 0, finding.code)


#: Rules that report one run of layers from different angles: an init that shrinks or grows the gradient
#: per layer (GL201), a recurrence that grows it per step (GL501), the gradient that vanishes or explodes
#: end to end because of them (GL102, GL101), weights frozen under Adam's eps by it (GL103), and the run
#: being deep and plain (GL301). In this order, the first present becomes the merged finding: the cause
#: names the layer where the problem starts and carries the fix that removes the others.
ROOT_CAUSE_ORDER = ("GL201", "GL501", "GL102", "GL101", "GL103", "GL301")
#: Rules whose ``evidence["layers"]`` lists the modules of the run they report.
RUN_RULES = frozenset({"GL201", "GL301"})
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def merge_root_causes(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """One finding per root cause: findings of ``ROOT_CAUSE_ORDER`` rules about one run of layers merge.

    Two such findings are about one run when the layers one names (its ``evidence["layers"]``, else its
    module) overlap the other's. The merged finding is the highest in ``ROOT_CAUSE_ORDER``, keeps its
    message, location and fix, takes the highest severity of the group (an error folded into a warning
    stays an error), and lists the others in ``related``.
    """
    candidates = [f for f in findings if f.code in ROOT_CAUSE_ORDER]
    groups: list[list[Finding]] = []
    for finding in sorted(candidates, key=lambda f: ROOT_CAUSE_ORDER.index(f.code)):
        layers = _layers(finding)
        group = next((g for g in groups if any(layers & _layers(other) for other in g)), None)
        if group is None:
            groups.append([finding])
        elif all(other.code != finding.code for other in group):
            group.append(finding)
        else:
            groups.append([finding])
    merged: dict[int, Finding] = {}
    absorbed: set[int] = set()
    for primary, *others in groups:
        if not others:
            continue
        severity = max((primary, *others), key=lambda f: _RANK[f.severity]).severity
        related = tuple(
            RelatedLocation(f.code, f.module, f.location, f.message, f.severity, f.confirmed) for f in others
        )
        merged[id(primary)] = replace(primary, severity=severity, related=primary.related + related)
        absorbed.update(id(f) for f in others)
    return tuple(merged.get(id(f), f) for f in findings if id(f) not in absorbed)


def _layers(finding: Finding) -> set[str]:
    """The modules a finding is about: its module, and the run of layers a run rule names in its evidence."""
    layers = {finding.module} if finding.module else set()
    if finding.code in RUN_RULES:
        layers.update(str(m) for m in finding.evidence.get("layers", ()) or ())
    return layers
