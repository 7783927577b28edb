"""A 60-layer tanh MLP with uniform_(-0.15, 0.15) at width 128 (fan_in·Var = 0.96): ordered phase just below criticality, a slow decay that is still ok at 60 layers."""

import torch
from torch import nn


class UniformTanh(nn.Module):
    def __init__(self, width: int = 128, depth: int = 60) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in self.layers:
            nn.init.uniform_(layer.weight, -0.15, 0.15)
            nn.init.uniform_(layer.bias, -0.05, 0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.tanh(layer(x))
        return self.layers[-1](x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return UniformTanh()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 128),)
