"""A 20-layer LeakyReLU(0.2) MLP with kaiming_normal_(a=0.2, mode='fan_out', nonlinearity='leaky_relu'): critical init, ok."""

import torch
import torch.nn.functional as F
from torch import nn


class LeakyMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 192, depth: int = 20, classes: int = 10) -> None:
        super().__init__()
        self.inp = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 2))
        self.out = nn.Linear(width, classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, a=0.2, mode="fan_out", nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.inp(x), 0.2)
        for block in self.blocks:
            x = F.leaky_relu(block(x), negative_slope=0.2)
        return self.out(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return LeakyMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 64),)
