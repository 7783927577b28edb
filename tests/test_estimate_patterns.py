"""Patterns of real architectures that the per-op cases do not isolate: each one broke a zoo model."""

from __future__ import annotations

import torch
from torch import nn

from tests.test_estimate_ops import TOLERANCE, measure, seeded, table


class DropPathBlock(nn.Module):
    """timm's stochastic depth: a per-sample mask built by ``x.new_empty(...).bernoulli_(keep)``.

    The mask is shaped like the branch but not made from its values: read as a signal it squared
    the branch's scale (Swin's shifted-window blocks came out 10^-1.8 off).
    """

    def __init__(self, d: int = 128, drop: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, d)
        self.keep = 1.0 - drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.fc2(torch.relu(self.fc1(self.norm(x))))
        mask = branch.new_empty((branch.shape[0], 1, 1)).bernoulli_(self.keep).div_(self.keep)
        return x + branch * mask


class DropPathNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DropPathBlock() for _ in range(4)))
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x).mean(1))


def test_stochastic_depth_mask_is_not_a_signal() -> None:
    model = seeded(DropPathNet)()
    graph, predicted, measured = measure(model, (torch.randn(64, 16, 128),))
    assert graph.trace.method == "fx"
    guess = {w.name: w.log10_grad_rms for w in predicted.weights}
    report = table(predicted, measured)
    for w in measured.weights:
        assert guess[w.name] is not None and w.log10_grad_rms is not None, report
        assert abs(guess[w.name] - w.log10_grad_rms) <= 2 * TOLERANCE, report  # the mask's 1/keep on kept samples is left out
    assert not predicted.uncertain, report
