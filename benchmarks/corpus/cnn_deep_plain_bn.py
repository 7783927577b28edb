"""A 20-layer plain (no skip) Conv-BatchNorm-ReLU stack: with batch×pixels = 4096 samples per channel, batch norm's gradient growth is mild (span ~0.3): ok."""

import torch
from torch import nn


class PlainBNNet(nn.Module):
    def __init__(self, channels: int = 32, depth: int = 20, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return PlainBNNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 3, 16, 16),)
