"""A temporal convolution network (Bai et al. 2018): dilated causal Conv1d under weight_norm (parametrizations), residual blocks: ok."""

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


class TemporalBlock(nn.Module):
    def __init__(self, channels_in: int, channels: int, dilation: int) -> None:
        super().__init__()
        self.pad = 2 * dilation
        self.conv1 = weight_norm(nn.Conv1d(channels_in, channels, 3, padding=self.pad, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(channels, channels, 3, padding=self.pad, dilation=dilation))
        self.down = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(x)[..., : -self.pad])
        h = torch.relu(self.conv2(h)[..., : -self.pad])
        return torch.relu(h + (x if self.down is None else self.down(x)))


class TCN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(TemporalBlock(16, 64, 1), TemporalBlock(64, 64, 2), TemporalBlock(64, 64, 4))
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x)[:, :, -1])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return TCN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 16, 48),)
