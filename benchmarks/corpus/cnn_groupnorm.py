"""A CNN of Conv-GroupNorm(8 groups)-SiLU blocks with avg-pool downsampling (detection-head style), He init: ok."""

import torch
from torch import nn


class GNBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.GroupNorm(8, c_out), nn.SiLU())


class GroupNormCNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(GNBlock(3, 32), GNBlock(32, 32))
        self.stage2 = nn.Sequential(GNBlock(32, 64), GNBlock(64, 64))
        self.stage3 = nn.Sequential(GNBlock(64, 128), GNBlock(128, 128))
        self.down = nn.AvgPool2d(2)
        self.head = nn.Linear(128, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(self.stage1(x))
        x = self.down(self.stage2(x))
        x = self.stage3(x)
        return self.head(x.mean(dim=(2, 3)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return GroupNormCNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 32, 32),)
