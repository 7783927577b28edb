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
        assert abs(guess[w.name] - w.log10_grad_rms) <= 2 * TOLERANCE, (
            report
        )  # the mask's 1/keep on kept samples is left out
    assert not predicted.uncertain, report


class EinsumRelativePosition(nn.Module):
    """MViTv2's relative positions: logits from einsum, a parameter table gathered by index, and the sum
    written back over the logits in place (``copy_``). Each of the three had no rule: the table got no estimate."""

    def __init__(self, d: int = 64, t: int = 16) -> None:
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.out = nn.Linear(d, d)
        self.rel = nn.Parameter(torch.randn(2 * t - 1, d) * 0.02)
        self.register_buffer("index", torch.arange(t)[:, None] - torch.arange(t)[None, :] + t - 1, persistent=False)
        for proj in (self.q, self.k):
            nn.init.normal_(proj.weight, std=d**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)
        logits = torch.einsum("bid,bjd->bij", q, k) / 8.0
        table = self.rel[self.index]  # (t, t, d)
        logits.copy_(logits + torch.einsum("bid,ijd->bij", q, table))
        return self.out(torch.softmax(logits, dim=-1) @ v)


def test_einsum_index_and_copy_have_rules() -> None:
    model = seeded(EinsumRelativePosition)()
    graph, predicted, measured = measure(model, (torch.randn(64, 16, 64),))
    guess = {w.name: w.log10_grad_rms for w in predicted.weights}
    report = table(predicted, measured)
    assert "rel" in guess, report
    for w in measured.weights:
        assert guess[w.name] is not None and w.log10_grad_rms is not None, report
        assert abs(guess[w.name] - w.log10_grad_rms) <= 2 * TOLERANCE, report
    assert not predicted.uncertain, report
