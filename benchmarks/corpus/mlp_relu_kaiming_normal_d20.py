"""A 20-layer ReLU MLP with He init (kaiming_normal_, fan_in, relu) and zero biases: gradient norm preserved with depth, ok."""

import torch
from torch import nn


class HeMLP(nn.Module):
    def __init__(self, in_features: int = 128, width: int = 128, depth: int = 20, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_features
        for _ in range(depth - 1):
            layers += [nn.Linear(d, width), nn.ReLU(inplace=True)]
            d = width
        layers.append(nn.Linear(d, classes))
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return HeMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
