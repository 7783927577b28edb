"""A 10-layer ReLU MLP at PyTorch's default init (Var = 1/(3 fan_in)); every layer shrinks the signal ×0.41: vanishing."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features: int = 256, width: int = 256, depth: int = 10, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_features, width), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return MLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 256),)
