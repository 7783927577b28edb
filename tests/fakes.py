"""Test doubles shared by the CI-integration tests: a fake warning rule, model sources, hand-made reports.

The rule catalogue grows; these tests use GL001 and the fake rule below, never the full list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from gradlint import registry
from gradlint.rulekit import Example, Hit, RuleContext
from gradlint.types import (
    Finding,
    Fix,
    InputSpec,
    ModelGraph,
    ModelReport,
    Report,
    Severity,
    SourceLocation,
    TraceInfo,
    frozen_mapping,
)

FAKE_CODE = "GL950"


def _check(ctx: RuleContext) -> Iterator[Hit]:
    for node in ctx.graph.layer_nodes():
        if node.module_type == "Linear":
            yield Hit(message=f"fake warning on this {node.module_type}", module=node.module)


FAKE_RULE = registry.Rule(
    code=FAKE_CODE,
    name="fake-linear-warning",
    severity=Severity.WARNING,
    kind="init-mismatch",
    summary="A test double: warns on every Linear.",
    doc="A test double: warns on every Linear.\n\n## What it does\nWarns on every Linear.\n\n"
    "## Why is this bad\nIt is not.\n\n## Example\n`nn.Linear(2, 2)`\n\n## Use instead\nAnything.",
    check=_check,
    valid=(Example(""),),
    invalid=(Example(""),),
)


@pytest.fixture
def fake_rule(monkeypatch: pytest.MonkeyPatch) -> registry.Rule:
    """Add ``GL950`` (warning, every Linear) to the catalogue for one test."""
    real = registry.all_rules()
    monkeypatch.setattr(registry, "all_rules", lambda: (*real, FAKE_RULE))
    return FAKE_RULE


NAN_MODEL = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(16, 32)
            self.fc2 = nn.Linear(32, 4)
            with torch.no_grad():
                self.fc2.weight[0, 0] = float("nan")

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))
"""
"""GL001 on ``fc2`` (line 8 of the dedented file)."""

CLEAN_MODEL = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x):
            return self.fc(x)
"""


def make_graph(source: str = "models/net.py", name: str = "Net", target: str | None = None) -> ModelGraph:
    values: dict[str, Any] = dict(
        target=target or f"{source}:{name}",
        name=name,
        source_path=source,
        trace=TraceInfo("fx"),
        inputs=(InputSpec((8, 16), "float32", "first layer"),),
        nodes=(),
        weights=(),
        tensors=(),
        module_types=frozen_mapping(),
        module_locations=frozen_mapping(),
        parameter_count=100,
        training=True,
    )
    # The graph grows fields as the stages grow; give any new required one an empty value.
    for f in dataclasses.fields(ModelGraph):
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = frozen_mapping() if "Mapping" in str(f.type) else ()
    return ModelGraph(**values)


def make_finding(
    message: str = "gradient RMS falls 10^-6.8",
    *,
    code: str = "GL001",
    name: str = "non-finite-tensor",
    severity: Severity = Severity.ERROR,
    module: str | None = "fc2",
    path: str = "models/net.py",
    line: int = 8,
    col: int = 1,
    fix: Fix | None = None,
    confirmed: bool | None = None,
) -> Finding:
    return Finding(
        code=code,
        name=name,
        severity=severity,
        kind="non-finite",
        message=message,
        module=module,
        location=SourceLocation(path, line, col),
        fix=fix,
        confirmed=confirmed,
    )


def make_report(*findings: Finding, source: str = "models/net.py") -> Report:
    return Report((ModelReport(make_graph(source), tuple(findings)),))
