"""A 60-layer tanh MLP with orthogonal_(gain=calculate_gain('tanh')): dynamical-isometry style init, gradients roughly preserved."""

import torch
from torch import nn


class OrthoTanh(nn.Module):
    def __init__(self, width: int = 128, depth: int = 60) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.readout = nn.Linear(width, 10)
        for layer in self.layers:
            nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain("tanh"))
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.readout(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return OrthoTanh()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 128),)
