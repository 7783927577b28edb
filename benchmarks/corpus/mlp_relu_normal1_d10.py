"""A 10-layer ReLU MLP initialised with normal_(std=1.0) at width 128: each layer multiplies the variance by 64: exploding."""

import torch
from torch import nn


class BigInitMLP(nn.Module):
    def __init__(self, width: int = 128, depth: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential()
        for i in range(depth - 1):
            self.layers.add_module(f"fc{i}", nn.Linear(width, width))
            self.layers.add_module(f"relu{i}", nn.ReLU())
        self.layers.add_module("out", nn.Linear(width, 10))
        for name, p in self.named_parameters():
            if name.endswith("weight"):
                nn.init.normal_(p, std=1.0)
            else:
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return BigInitMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
