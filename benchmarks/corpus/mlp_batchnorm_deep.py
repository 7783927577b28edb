"""A 30-layer plain MLP of Linear-BatchNorm1d-ReLU at batch 16 (Yang et al. 2019): batch norm's backward makes gradients grow with depth: exploding."""

import torch
from torch import nn


class BNMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 128, depth: int = 30, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_features
        for _ in range(depth - 1):
            layers += [nn.Linear(d, width, bias=False), nn.BatchNorm1d(width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return BNMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 64),)
