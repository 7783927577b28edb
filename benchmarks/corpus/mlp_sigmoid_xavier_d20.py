"""A 20-layer sigmoid MLP with xavier_uniform_: sigmoid' <= 1/4, so the gradient shrinks ~×0.25 per layer: vanishing (the classic broken net)."""

import torch
from torch import nn


class SigmoidNet(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 64, depth: int = 20) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth - 1):
            layers += [nn.Linear(in_features if i == 0 else width, width), nn.Sigmoid()]
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SigmoidNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 64),)
