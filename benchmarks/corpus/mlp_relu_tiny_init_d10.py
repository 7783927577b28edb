"""A 10-layer ReLU MLP initialised with normal_(std=1e-3): every layer shrinks the signal ×~0.01, so gradients vanish to nothing."""

import torch
from torch import nn


class TinyInitMLP(nn.Module):
    def __init__(self, width: int = 128, depth: int = 10) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.head = nn.Linear(width, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=1e-3)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = nn.functional.relu(layer(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return TinyInitMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
