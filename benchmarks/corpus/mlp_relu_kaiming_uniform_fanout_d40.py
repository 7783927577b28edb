"""A 40-layer ReLU MLP with kaiming_uniform_(mode='fan_out'): square layers, so forward and backward are both preserved: ok."""

import torch
from torch import nn


class DeepMLP(nn.Module):
    def __init__(self, width: int = 128, depth: int = 40) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.head = nn.Linear(width, 1)
        for layer in self.layers:
            nn.init.kaiming_uniform_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(layer.bias, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return DeepMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 128),)
