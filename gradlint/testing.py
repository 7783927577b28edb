"""Assertions for users' own test suites.

::

    from gradlint.testing import assert_no_gradient_risk

    def test_model_trains():
        model = build_model()
        assert_no_gradient_risk(model, torch.randn(8, 3, 32, 32), fail_on="warning")

The model is linted (never modified); findings at or above ``fail_on`` raise ``AssertionError``
with one concise line per finding, the format of ``gradlint --format concise``. Every keyword of
:func:`gradlint.lint` works here too (``select``, ``ignore``, ``probe=True`` ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from gradlint.api import lint
from gradlint.report.paths import display_path
from gradlint.report.rows import probe_outcome
from gradlint.types import Finding, Report, Severity

SEVERITIES = tuple(s.value for s in Severity)


def failing_findings(report: Report, fail_on: str | Severity = "info") -> tuple[Finding, ...]:
    """The findings of ``report`` at or above ``fail_on``."""
    try:
        threshold = Severity(fail_on).rank
    except ValueError:
        raise ValueError(f"fail_on={fail_on!r}: expected one of {', '.join(SEVERITIES)}") from None
    return tuple(f for f in report.findings if f.severity.rank >= threshold)


def concise_line(finding: Finding) -> str:
    """``path:line:col: CODE [severity] module: message`` as the concise text format writes it."""
    where = (
        f"{display_path(finding.location.path)}:{finding.location.line}:{finding.location.col}: "
        if finding.location
        else ""
    )
    module = f"{finding.module}: " if finding.module else ""
    return f"{where}{finding.code} [{finding.severity.value}] {module}{finding.message}{probe_outcome(finding)}"


def assert_no_gradient_risk(
    model: nn.Module,
    example_inputs: Sequence[Any] | torch.Tensor | None = None,
    *,
    fail_on: str | Severity = "info",
    **options: Any,
) -> Report:
    """Fail the calling test when gradlint finds a gradient risk in ``model``; returns the report otherwise."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    report = lint(model, example_inputs, **options)
    failing = failing_findings(report, fail_on)
    if failing:
        name = report.models[0].graph.name if report.models else type(model).__name__
        lines = "\n".join(f"  {concise_line(f)}" for f in failing)
        raise AssertionError(
            f"gradlint found {len(failing)} gradient risk(s) at or above {Severity(fail_on).value} in {name}:\n{lines}"
        )
    return report
