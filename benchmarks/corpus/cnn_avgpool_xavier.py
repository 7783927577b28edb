"""An all-conv net with AvgPool2d downsampling, LeakyReLU(0.1), xavier_uniform_ init and a global-average-pool head: ok."""

import torch
import torch.nn.functional as F
from torch import nn


class AllConv(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 48, 3, padding=1)
        self.c2 = nn.Conv2d(48, 48, 3, padding=1)
        self.c3 = nn.Conv2d(48, 96, 3, padding=1)
        self.c4 = nn.Conv2d(96, 96, 3, padding=1)
        self.c5 = nn.Conv2d(96, classes, 1)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.c1(x), 0.1)
        x = self.pool(F.leaky_relu(self.c2(x), 0.1))
        x = F.leaky_relu(self.c3(x), 0.1)
        x = self.pool(F.leaky_relu(self.c4(x), 0.1))
        x = self.c5(x)
        return F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return AllConv()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 3, 32, 32),)
