"""A 20-layer SiLU MLP with LeCun-normal init (std = 1/sqrt(fan_in)): SiLU keeps only ~1/3 of the variance per layer at this scale, activations and gradients shrink geometrically: vanishing."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class SiLUMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 128, depth: int = 20, classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        d = in_features
        for _ in range(depth - 1):
            self.layers.append(nn.Linear(d, width))
            d = width
        self.head = nn.Linear(d, classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt(m.in_features))
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = F.silu(layer(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SiLUMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 64),)
