"""A context-aggregation CNN with exponentially dilated 3×3 convs (1, 2, 4, 8, 1), He init, no pooling: ok."""

import torch
from torch import nn


class DilatedNet(nn.Module):
    def __init__(self, channels: int = 32, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.dilated = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=d, dilation=d) for d in (1, 2, 4, 8, 1))
        self.head = nn.Conv2d(channels, classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for conv in self.dilated:
            x = torch.relu(conv(x))
        return self.head(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return DilatedNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 32, 32),)
