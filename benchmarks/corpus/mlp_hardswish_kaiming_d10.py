"""A 10-layer Hardswish MLP (MobileNetV3's activation) with kaiming_normal_(relu): ok at this depth."""

import torch
from torch import nn


class HardswishMLP(nn.Module):
    def __init__(self, width: int = 160, depth: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Hardswish()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return HardswishMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 160),)
