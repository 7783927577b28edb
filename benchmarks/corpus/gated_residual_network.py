"""A Temporal-Fusion-Transformer gated residual network: ELU, Linear, GLU-style sigmoid gate (x·σ(g)), residual add, LayerNorm, 4 stacked: ok."""

import torch
from torch import nn


class GatedResidualNetwork(nn.Module):
    def __init__(self, d: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.elu = nn.ELU()
        self.fc2 = nn.Linear(hidden, d)
        self.dropout = nn.Dropout(dropout)
        self.gate = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.fc2(self.elu(self.fc1(x))))
        gated = self.value(h) * torch.sigmoid(self.gate(h))
        return self.norm(x + gated)


class GRNStack(nn.Module):
    def __init__(self, in_features: int = 20, d: int = 64, blocks: int = 4) -> None:
        super().__init__()
        self.input = nn.Linear(in_features, d)
        self.grns = nn.Sequential(*[GatedResidualNetwork(d, 2 * d) for _ in range(blocks)])
        self.output = nn.Linear(d, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.grns(self.input(x)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return GRNStack()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 24, 20),)
