"""A 1-D CNN over a waveform-like sequence (Conv1d, BatchNorm1d, ReLU, MaxPool1d, global AvgPool), default init: ok."""

import torch
from torch import nn


class Audio1D(nn.Module):
    def __init__(self, in_channels: int = 1, classes: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_channels, 32, kernel_size=9, stride=2, padding=4),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 64, kernel_size=5, padding=2),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(64, 64, kernel_size=3, padding=1),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
        )
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).squeeze(-1))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return Audio1D()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 1, 256),)
