"""confirm_findings: the probe confirms or refutes what the rules predicted."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from gradlint.probe import ProbeResult, confirm_findings, pooled_log10, probe
from gradlint.types import Finding, Severity, frozen_mapping


def finding(kind: str, module: str | None = None, **evidence: object) -> Finding:
    return Finding(
        code="GL999",
        name="test-rule",
        severity=Severity.WARNING,
        kind=kind,
        message="predicted",
        module=module,
        location=None,
        evidence=frozen_mapping(evidence),
    )


def relu_stack(depth: int, gain: float = 1.0, width: int = 32) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        with torch.no_grad():
            linear.weight.mul_(gain)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def vanishing() -> ProbeResult:
    result = probe(relu_stack(14), (torch.randn(16, 32),), seeds=(1,))
    assert result.verdict == "vanishing", result.verdict_reason
    return result


@pytest.fixture(scope="module")
def exploding() -> ProbeResult:
    result = probe(relu_stack(10, gain=8.0), (torch.randn(16, 32),), seeds=(1,))
    assert result.verdict == "exploding", result.verdict_reason
    return result


def test_gradient_findings_agree_or_not(vanishing: ProbeResult, exploding: ProbeResult) -> None:
    predicted = [finding("vanishing-gradient", "0", log10_grad_rms=-4.0), finding("exploding-gradient")]
    on_vanishing = confirm_findings(predicted, vanishing)
    assert [f.confirmed for f in on_vanishing] == [True, False]
    on_exploding = confirm_findings(predicted, exploding)
    assert [f.confirmed for f in on_exploding] == [False, True]

    confirmed = on_vanishing[0]
    assert confirmed.evidence["log10_grad_rms"] == -4.0  # the prediction stays beside the measurement
    assert confirmed.evidence["probe_verdict"] == "vanishing"
    assert confirmed.evidence["probe_log10_grad_rms"] == pytest.approx(
        vanishing.weight("0.weight").log10_grad_rms, abs=1e-4
    )
    assert confirmed.evidence["probe_weights"] == 1
    assert confirmed.evidence["probe_span"] < 0
    assert "probe_log10_grad_rms" not in on_vanishing[1].evidence  # a model-level finding
    json.dumps(dict(confirmed.evidence), allow_nan=False)
    assert predicted[0].confirmed is None  # the inputs are frozen and left alone


def test_other_kinds_are_unchanged(vanishing: ProbeResult) -> None:
    original = finding("attention", "0")
    assert confirm_findings([original], vanishing) == (original,)


def test_nonfinite_findings() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    clean = probe(model, (torch.randn(4, 4),), seeds=(1,))
    with torch.no_grad():
        model[0].weight[0, 0] = float("inf")
    broken = probe(model, (torch.randn(4, 4),), seeds=(1,))
    predicted = [finding("non-finite", "0")]
    assert confirm_findings(predicted, clean)[0].confirmed is False
    marked = confirm_findings(predicted, broken)[0]
    assert marked.confirmed is True
    assert marked.evidence["probe_nonfinite_phase"] == "forward"
    assert marked.evidence["probe_nonfinite_module"] == "0"


class DeadNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.alive = nn.Linear(8, 16)
        self.act1 = nn.ReLU()
        self.dying = nn.Linear(16, 16)
        self.act2 = nn.ReLU()
        self.head = nn.Linear(16, 2)
        with torch.no_grad():
            self.dying.bias.fill_(-100.0)  # every unit below zero for any input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act2(self.dying(self.act1(self.alive(x)))))


def test_dead_units_measured_and_confirmed() -> None:
    result = probe(DeadNet(), (torch.randn(8, 8),), seeds=(1,))
    dead = {a.module: a.dead_fraction for a in result.activations}
    assert dead["act2"] == 1.0
    assert dead["act1"] is not None and dead["act1"] < 0.5
    assert dead["dying"] is None  # not ReLU-family
    # Behind a dead layer every weight's gradient is exactly zero: blocked, not vanishing.
    assert all(w.blocked for w in result.weights)
    assert result.verdict == "ok" and "exactly zero" in result.verdict_reason

    marked = confirm_findings(
        [
            finding("dead-units", "act2"),
            finding("dead-units", "dying"),
            finding("dead-units", "alive"),
            finding("dead-units"),
        ],
        result,
    )
    assert [f.confirmed for f in marked] == [True, True, False, True]
    assert marked[1].evidence["probe_dead_module"] == "act2"
    assert marked[2].evidence["probe_dead_fraction"] < 0.5


def test_dead_units_unmeasurable_stays_none() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    result = probe(model, (torch.randn(4, 4),), seeds=(1,))
    assert confirm_findings([finding("dead-units", "0")], result)[0].confirmed is None


def test_pooled_log10(vanishing: ProbeResult) -> None:
    w = vanishing.weights[0]
    assert pooled_log10([w]) == pytest.approx(w.log10_grad_rms)
    assert pooled_log10([w, w]) == pytest.approx(w.log10_grad_rms)
    assert pooled_log10([]) is None
