"""A text-conditioned diffusion UNet: ``forward(x, timesteps, *, context)`` takes a noisy latent, a
timestep per sample and the text encoder's states as a keyword.

Lint it with positional and keyword inputs as expressions:
``gradlint 'docs/intake/diffusion.py:DiffusionUNet()'
--inputs '(torch.randn(2, 4, 32, 32), torch.randint(0, 1000, (2,)))'
--input-kwargs "{'context': torch.randn(2, 77, 128)}"``.
"""

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    freqs = torch.exp(-math.log(10000) * torch.arange(dim // 2, device=t.device) / (dim // 2))
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, channels: int, time_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.time = nn.Linear(time_dim, channels)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x))) + self.time(t)[:, :, None, None]
        return x + self.conv2(nn.functional.silu(self.norm2(h)))


class CrossAttention(nn.Module):
    def __init__(self, channels: int, context_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attn = nn.MultiheadAttention(channels, 4, kdim=context_dim, vdim=context_dim, batch_first=True)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attn(q, context, context, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class DiffusionUNet(nn.Module):
    def __init__(self, in_channels: int = 4, channels: int = 64, context_dim: int = 128) -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(
            nn.Linear(channels, 4 * channels), nn.SiLU(), nn.Linear(4 * channels, 4 * channels)
        )
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.res1 = ResBlock(channels, 4 * channels)
        self.cross = CrossAttention(channels, context_dim)
        self.res2 = ResBlock(channels, 4 * channels)
        self.conv_out = nn.Conv2d(channels, in_channels, 3, padding=1)
        self.channels = channels

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, *, context: torch.Tensor) -> torch.Tensor:
        t = self.time_mlp(timestep_embedding(timesteps, self.channels))
        h = self.res1(self.conv_in(x), t)
        h = self.res2(self.cross(h, context), t)
        return self.conv_out(h)
