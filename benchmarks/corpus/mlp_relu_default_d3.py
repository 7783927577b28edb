"""A 3-layer ReLU MLP classifier at PyTorch's default init; too shallow for the ×0.41-per-layer shrink to matter: ok."""

import torch
from torch import nn


class SmallMLP(nn.Module):
    def __init__(self, in_features: int = 784, hidden: int = 128, classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SmallMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 784),)
