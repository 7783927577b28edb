"""Disagreement is said (issue #15): with the probe, every weight whose measurement is more than one order
from the prediction, or blocked on one side only, is listed and counted, in text and JSON."""

from __future__ import annotations

import io
import json
import math

import jsonschema
import torch
from torch import nn

from gradlint.api import lint
from gradlint.estimate import WeightEstimate
from gradlint.probe.agreement import agreement
from gradlint.probe.result import ProbedWeight
from gradlint.report import format_json, load_schema
from gradlint.report.text import TextReporter


def _measured(name: str, value: float | None, *, nonfinite: bool = False) -> ProbedWeight:
    return ProbedWeight(name, "m", "Linear", (4, 4), 0, value, (value,) * 3, value is None, nonfinite)


def _predicted(name: str, value: float | None) -> WeightEstimate:
    return WeightEstimate(name, "m", value, None, 0.0)


def test_each_kind_of_disagreement_is_found_and_agreement_is_not() -> None:
    predicted = [
        _predicted("close", -1.0),
        _predicted("far", -3.5),
        _predicted("zero", -2.0),
        _predicted("missed", None),
        _predicted("both-zero", None),
        _predicted("inf", math.inf),
    ]
    measured = [
        _measured("close", -1.9),
        _measured("far", -1.2),
        _measured("zero", None),
        _measured("missed", -2.0),
        _measured("both-zero", None),
        _measured("inf", -1.0),
    ]
    found = agreement(predicted, measured)
    assert found.weights == 6 and found.count == 4
    kinds = {d.name: d.kind for d in found.disagreements}
    assert kinds == {"far": "magnitude", "zero": "blocked", "missed": "unblocked", "inf": "non-finite"}
    far = found.disagreements[0]
    assert far.difference is not None and math.isclose(far.difference, -2.3)
    assert far.describe() == "far: predicted -3.50, measured -1.20 (2.30 orders)"


class Cumulative(nn.Module):
    """``cumsum`` has no rule (gain 1); applied twice over 256 features it grows the signal by orders."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 256)
        self.fc2 = nn.Linear(256, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x).cumsum(-1).cumsum(-1))


def test_the_report_says_where_the_probe_refutes_the_estimate() -> None:
    torch.manual_seed(0)
    report = lint(Cumulative(), (torch.randn(64, 64),), probe=True, device="cpu")
    model = report.models[0]
    found = agreement(model.estimates.weights, model.probe.weights)
    assert found.count >= 1
    out, err = io.StringIO(), io.StringIO()
    TextReporter(out, err, color=False).render(report)
    assert f"probe disagrees with the estimate on {found.count} of 2 weights" in out.getvalue()
    document = json.loads(format_json(report))
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    disagreement = document["models"][0]["disagreement"]
    assert disagreement["count"] == found.count and disagreement["weights"] == 2
    assert {item["name"] for item in disagreement["items"]} == {d.name for d in found.disagreements}
