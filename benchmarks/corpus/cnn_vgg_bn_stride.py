"""A VGG-ish CNN of Conv-BatchNorm-ReLU blocks downsampling with stride-2 convs, kaiming_normal_(fan_out) init: ok."""

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class VGGish(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 32),
            conv_bn(32, 32),
            conv_bn(32, 64, stride=2),
            conv_bn(64, 64),
            conv_bn(64, 128, stride=2),
            conv_bn(128, 128),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(128, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))
        return self.classifier(x.flatten(1))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return VGGish()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 3, 32, 32),)
