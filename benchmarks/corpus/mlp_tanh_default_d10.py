"""A 10-layer tanh MLP at PyTorch's default init: each layer keeps about 1/3 of the gradient variance, so gradients vanish with depth."""

import torch
from torch import nn


class TanhMLP(nn.Module):
    def __init__(self, in_features: int = 128, width: int = 128, depth: int = 10, classes: int = 10) -> None:
        super().__init__()
        dims = [in_features] + [width] * (depth - 1)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.out(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return TanhMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
