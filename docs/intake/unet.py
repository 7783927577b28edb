"""A UNet whose constructor needs arguments (``UNet(n_channels, n_classes)``), as most real models do.

Lint it with a target expression: ``gradlint 'docs/intake/unet.py:UNet(3, 2)'``.
"""

import torch
from torch import nn


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, n_channels: int, n_classes: int, width: int = 16) -> None:
        super().__init__()
        self.inc = double_conv(n_channels, width)
        self.down = nn.Sequential(nn.MaxPool2d(2), double_conv(width, 2 * width))
        self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec = double_conv(2 * width, width)
        self.outc = nn.Conv2d(width, n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down(x1)
        return self.outc(self.dec(torch.cat([x1, self.up(x2)], dim=1)))
