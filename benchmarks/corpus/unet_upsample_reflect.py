"""A small UNet: reflection-padded convs, GroupNorm, max-pool down, bilinear upsampling and skip concatenation up, pixel-shuffle head: ok."""

import torch
import torch.nn.functional as F
from torch import nn


def block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), nn.GroupNorm(8, c_out), nn.SiLU(),
        nn.ReflectionPad2d(1), nn.Conv2d(c_out, c_out, 3), nn.GroupNorm(8, c_out), nn.SiLU(),
    )  # fmt: skip


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down1 = block(3, 32)
        self.down2 = block(32, 64)
        self.mid = block(64, 64)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.up1 = block(128, 32)
        self.out = nn.Conv2d(64, 4 * 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.down1(x)
        b = self.down2(F.max_pool2d(a, 2))
        m = self.mid(b)
        u = self.up1(torch.cat([self.up(m), F.interpolate(b, scale_factor=2, mode="nearest")], dim=1))
        return F.pixel_shuffle(self.out(torch.cat([u, a], dim=1)), 2)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return UNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(4, 3, 32, 32),)
