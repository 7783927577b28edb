"""A 60-layer self-normalising network: SELU with LeCun-normal init (kaiming_normal_, nonlinearity='linear'); fixed point keeps gradients ok."""

import torch
from torch import nn


class SNN(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 128, depth: int = 60, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_features, width), nn.SELU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), nn.SELU()]
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 64),)
