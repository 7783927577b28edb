"""Coverage is part of the verdict (issue #15, DESIGN §2c): every estimate says how much of the model it saw,
and a model it mostly could not see is never reported as passed."""

from __future__ import annotations

import io
import json

import jsonschema
import torch
from torch import nn

from gradlint.api import lint
from gradlint.estimate import Estimates, estimate
from gradlint.estimate.coverage import LOW_COVERAGE
from gradlint.report import format_json, load_schema
from gradlint.report.text import TextReporter


class Blocks(nn.Module):
    """Residual blocks; ``odd`` puts an op without a rule (cumsum) on the main path of every block."""

    def __init__(self, odd: bool) -> None:
        super().__init__()
        self.odd = odd
        self.fc = nn.ModuleList(nn.Linear(64, 64) for _ in range(8))
        self.gate = nn.Linear(64, 64)
        self.head = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc in self.fc:
            h = fc(x)
            x = x + (torch.cumsum(h, -1) / 8 if self.odd else torch.relu(h))
        return self.head(x)


class SideBranch(Blocks):
    """The op without a rule only on a side path that takes no gradient back into the blocks (a stop-gradient
    auxiliary): the blocks' estimates do not depend on it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc in self.fc:
            x = x + torch.relu(fc(x))
        return self.head(x + torch.sort(self.gate(x.detach()), dim=-1).values)


def _lint(model: nn.Module):  # noqa: ANN202 - the ModelReport
    torch.manual_seed(0)
    return lint(model, (torch.randn(32, 64),)).models[0]


def _estimate(model: nn.Module) -> Estimates:
    return estimate(_lint(model).graph)


def test_a_model_with_every_rule_is_covered() -> None:
    torch.manual_seed(0)
    coverage = _estimate(Blocks(odd=False)).coverage
    assert coverage.complete and coverage.fraction == 1.0 and not coverage.low
    assert coverage.weights == 10 and coverage.ops == coverage.ops_covered > 0
    assert coverage.missing == () and dict(coverage.uncovered_by) == {}


def test_an_op_without_a_rule_on_the_main_path_makes_the_estimate_uncertain() -> None:
    torch.manual_seed(0)
    predicted = _estimate(Blocks(odd=True))
    coverage = predicted.coverage
    assert coverage.missing == (("cumsum", 8),)
    assert coverage.ops - coverage.ops_covered == 8
    # every weight's gradient crosses a cumsum, or its input went through one (the gate is not called: blocked)
    assert set(coverage.uncovered_by) == {f"fc.{i}.weight" for i in range(8)} | {"head.weight"}
    assert coverage.uncovered_by["head.weight"] == ("cumsum",)
    assert coverage.fraction < LOW_COVERAGE and coverage.low
    assert "uncertain" in predicted.verdict.reason and "cumsum (8)" in predicted.verdict.reason


def test_an_op_on_a_side_path_leaves_the_rest_covered() -> None:
    torch.manual_seed(0)
    coverage = _estimate(SideBranch(odd=False)).coverage
    assert coverage.missing == (("sort", 1),)
    # the gate's gradient crosses sort, the head reads its output; the blocks' gradients cross neither
    assert set(coverage.uncovered_by) == {"gate.weight", "head.weight"}
    assert coverage.weights_covered == 8 and not coverage.low


def _text(model: nn.Module) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    report = lint(model, (torch.randn(32, 64),))
    TextReporter(out, err, color=False).render(report)
    return out.getvalue(), err.getvalue()


def test_a_clean_report_the_estimate_could_not_see_is_not_a_pass() -> None:
    torch.manual_seed(0)
    out, err = _text(Blocks(odd=True))
    assert "estimate uncertain: it covered 1 of 10 weights (10%)" in out
    assert "no rule for cumsum (8)" in out
    assert "All checks passed" not in err and "uncertain" in err
    torch.manual_seed(0)
    out, err = _text(Blocks(odd=False))
    assert "estimate" not in out.split("\n")[1] and "All checks passed" in err


def test_json_carries_the_coverage_and_validates() -> None:
    torch.manual_seed(0)
    document = json.loads(format_json(lint(Blocks(odd=True), (torch.randn(32, 64),))))
    jsonschema.Draft202012Validator(load_schema()).validate(document)
    coverage = document["models"][0]["coverage"]
    assert coverage["low"] is True and coverage["missing_ops"] == [{"op": "cumsum", "count": 8}]
    assert coverage["uncovered_by"]["head.weight"] == ["cumsum"]
    assert document["summary"]["models_uncertain"] == 1
