"""A 3-layer GELU regression MLP at PyTorch's default init with a narrow input: a small healthy model, ok."""

import torch
from torch import nn


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(16, 64),
            nn.GELU(),
            nn.Linear(64, 64),
            nn.GELU(),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return Regressor()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 16),)
