"""A 60-layer, width-64 ReLU MLP with He init: critical on average, but depth/width ≈ 1 makes the gain log-normally spread; ok."""

import torch
from torch import nn


class NarrowDeep(nn.Module):
    def __init__(self, width: int = 64, depth: int = 60) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.head = nn.Linear(width, 10)
        for layer in self.layers:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return NarrowDeep()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 64),)
