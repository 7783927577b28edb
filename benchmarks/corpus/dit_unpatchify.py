"""DiT/MAE-style tokens to image: a linear decoder per patch token, unpatchified with a one-operand einsum, then a conv: ok."""

import torch
from torch import nn


class Unpatchify(nn.Module):
    def __init__(self, d: int = 64, patch: int = 2, channels: int = 16, grid: int = 8) -> None:
        super().__init__()
        self.patch, self.channels, self.grid = patch, channels, grid
        self.norm = nn.LayerNorm(d)
        self.decoder = nn.Linear(d, patch * patch * channels)
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, p, c, g = x.shape[0], self.patch, self.channels, self.grid
        y = self.decoder(self.norm(x)).reshape(n, g, g, p, p, c)
        y = torch.einsum("nhwpqc->nchpwq", y).reshape(n, c, g * p, g * p)
        return self.conv(y)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return Unpatchify()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 64, 64),)
