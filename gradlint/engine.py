"""Run the selected rules over one model's graph and turn their hits into findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradlint.registry import Rule
from gradlint.rulekit import RuleContext
from gradlint.types import Estimates, Finding, ModelGraph, nearest_site


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
