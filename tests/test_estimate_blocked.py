"""Blocked means provably zero (issue #15, DESIGN §2c): an op or layer without a rule passes the gradient on
with gain 1 and never blocks; a weight is predicted blocked only when its gradient is zero by construction."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradlint.api import lint
from gradlint.estimate import Estimates, estimate, registry
from gradlint.probe import probe


def _estimate(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Estimates:
    return estimate(lint(model, inputs).models[0].graph)


class Maximum(nn.Module):
    """``torch.maximum`` has no rule: both branches feed it, and both get gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(64, 64)
        self.b = nn.Linear(64, 64)
        self.head = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.maximum(self.a(x), self.b(x)))


class Unknown(nn.Module):
    """A layer kind without a rule, with weights of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(64, 64) / 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x @ self.weight, dim=-1) / 8


class WithUnknown(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(32, 64)
        self.cell = nn.LSTMCell(64, 64)
        self.head = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.cell(self.inp(x))
        return self.head(h)


class ZeroGate(nn.Module):
    """A residual branch behind a zero-initialised gate: its weights' gradients are exactly zero."""

    def __init__(self) -> None:
        super().__init__()
        self.branch = nn.Linear(64, 64)
        self.gate = nn.Parameter(torch.zeros(1))
        self.head = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x + self.gate * torch.relu(self.branch(x)))


def test_an_op_without_a_rule_passes_the_gradient_to_every_input() -> None:
    torch.manual_seed(0)
    model, inputs = Maximum(), (torch.randn(64, 64),)
    predicted = _estimate(model, inputs)
    measured = probe(model, inputs, device="cpu")
    assert all(not w.blocked for w in measured.weights)
    for w in predicted.weights:
        assert w.log10_grad_rms is not None, w
    assert "maximum" in {reason.split("'")[1] for _, reason in predicted.uncertain if "'" in reason}


def test_a_layer_without_a_rule_gives_its_own_weights_a_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_CELLS", ())  # LSTMCell as a layer kind without a rule
    torch.manual_seed(0)
    predicted = _estimate(WithUnknown(), (torch.randn(64, 32),))
    assert ("LSTMCell", 1) in predicted.coverage.missing
    for name in ("inp.weight", "cell.weight_ih", "cell.weight_hh", "head.weight"):
        assert predicted.weight(name).log10_grad_rms is not None, name


def test_zero_gate_still_blocks_its_branch() -> None:
    torch.manual_seed(0)
    model, inputs = ZeroGate(), (torch.randn(64, 64),)
    predicted = _estimate(model, inputs)
    measured = probe(model, inputs, device="cpu")
    assert measured.weight("branch.weight").blocked
    assert predicted.weight("branch.weight").log10_grad_rms is None
    assert predicted.weight("head.weight").log10_grad_rms is not None


def test_old_style_weight_norm_is_not_blocked_and_matches_the_parametrized_form() -> None:
    def build(wrap):  # noqa: ANN001, ANN202 - one of torch's two weight_norm functions
        torch.manual_seed(0)
        return nn.Sequential(wrap(nn.Conv1d(16, 64, 3, padding=1)), nn.ReLU(), wrap(nn.Conv1d(64, 32, 3, padding=1)))

    inputs = (torch.randn(8, 16, 32),)
    old = _estimate(build(nn.utils.weight_norm), inputs)
    new = _estimate(build(nn.utils.parametrizations.weight_norm), inputs)
    for layer in ("0", "2"):
        for old_name, new_name in (("weight_v", "original1"), ("weight_g", "original0")):
            before = old.weight(f"{layer}.{old_name}").log10_grad_rms
            after = new.weight(f"{layer}.parametrizations.weight.{new_name}").log10_grad_rms
            assert before is not None and after is not None
            assert abs(before - after) < 1e-6
