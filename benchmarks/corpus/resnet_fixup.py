"""A Fixup ResNet (Zhang et al. 2019): no norm, scalar biases, branch convs ×L^(-1/2), last conv of each branch zero: ok."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class FixupBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias1a = nn.Parameter(torch.zeros(1))
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bias1b = nn.Parameter(torch.zeros(1))
        self.bias2a = nn.Parameter(torch.zeros(1))
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.scale = nn.Parameter(torch.ones(1))
        self.bias2b = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x + self.bias1a)
        out = F.relu(out + self.bias1b)
        out = self.conv2(out + self.bias2a)
        out = out * self.scale + self.bias2b
        return F.relu(out + x)


class FixupResNet(nn.Module):
    def __init__(self, channels: int = 32, num_blocks: int = 12, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.bias1 = nn.Parameter(torch.zeros(1))
        self.blocks = nn.Sequential(*[FixupBlock(channels) for _ in range(num_blocks)])
        self.bias2 = nn.Parameter(torch.zeros(1))
        self.fc = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, FixupBlock):
                fan_out = m.conv1.weight.shape[0] * m.conv1.weight[0][0].numel()
                nn.init.normal_(m.conv1.weight, mean=0, std=math.sqrt(2 / fan_out) * num_blocks ** (-0.5))
                nn.init.constant_(m.conv2.weight, 0)
        nn.init.constant_(self.fc.weight, 0)
        nn.init.constant_(self.fc.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x) + self.bias1)
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x + self.bias2)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return FixupResNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 16, 16),)
