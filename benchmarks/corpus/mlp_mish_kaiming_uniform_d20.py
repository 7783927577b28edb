"""A 20-layer Mish MLP with kaiming_uniform_(nonlinearity='relu'): Mish keeps a little less than the He-critical gain, gradients shrink mildly toward the input: ok."""

import torch
import torch.nn.functional as F
from torch import nn


class MishMLP(nn.Module):
    def __init__(self, in_features: int = 32, width: int = 128, depth: int = 20, classes: int = 4) -> None:
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(in_features, width)] + [nn.Linear(width, width) for _ in range(depth - 2)])
        self.head = nn.Linear(width, classes)
        for fc in self.fcs:
            nn.init.kaiming_uniform_(fc.weight, nonlinearity="relu")
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc in self.fcs:
            x = F.mish(fc(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return MishMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 32),)
