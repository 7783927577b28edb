"""A 1-layer nn.GRU (batch_first) at default init over 64 steps, last output to a classifier: the update gate keeps a leaky memory, ok."""

import torch
from torch import nn


class GRUClassifier(nn.Module):
    def __init__(self, input_size: int = 24, hidden_size: int = 64, classes: int = 6) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.fc(out[:, -1])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return GRUClassifier()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 64, 24),)
