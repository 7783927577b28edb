"""A tiny 3-D CNN for video clips (Conv3d, BatchNorm3d, ReLU, MaxPool3d, global average pool): ok."""

import torch
from torch import nn


class Tiny3D(nn.Module):
    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, 16, kernel_size=3, padding=1),
            nn.BatchNorm3d(16),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(2),
            nn.Conv3d(16, 32, kernel_size=3, padding=1),
            nn.BatchNorm3d(32),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool3d(1),
        )
        self.fc = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return Tiny3D()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 8, 16, 16),)
