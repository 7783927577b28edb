"""A 40-layer tanh MLP with xavier_uniform_(gain=calculate_gain('tanh')) = 5/3: near the edge of chaos, ok."""

import torch
from torch import nn


class GlorotTanh(nn.Module):
    def __init__(self, width: int = 96, depth: int = 40) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        gain = nn.init.calculate_gain("tanh")
        for layer in self.layers:
            nn.init.xavier_uniform_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.tanh(x)
        return x


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return GlorotTanh()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 96),)
