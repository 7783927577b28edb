"""A SkipInit ResNet (De & Smith 2020): no norm, each branch scaled by a learnable α initialised to 0; branch weights are blocked (zero gradient) at init."""

import torch
from torch import nn


class SkipInitBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.conv2(torch.relu(self.conv1(x)))
        return x + self.alpha * branch


class SkipInitResNet(nn.Module):
    def __init__(self, channels: int = 48, blocks: int = 10, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[SkipInitBlock(channels) for _ in range(blocks)])
        self.head = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.blocks(self.stem(x)))
        return self.head(x.mean((2, 3)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SkipInitResNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 16, 16),)
