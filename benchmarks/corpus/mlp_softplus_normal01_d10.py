"""A 10-layer Softplus MLP with normal_(std=0.1) at width 128 (fan_in·Var = 1.28): Softplus' ~ 1/2 shrinks the gradient ~×0.6 per layer: vanishing."""

import torch
from torch import nn


class SoftplusMLP(nn.Module):
    def __init__(self, width: int = 128, depth: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(*[m for _ in range(depth - 1) for m in (nn.Linear(width, width), nn.Softplus())])
        self.out = nn.Linear(width, 1)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.1)
                nn.init.normal_(m.bias, std=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SoftplusMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
