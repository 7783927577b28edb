"""A 2-layer nn.LSTM (seq-first, dropout 0.2 between layers) at default init, mean over time into a regressor: recurrent-weight gradients fall below 1e-3: vanishing."""

import torch
from torch import nn


class StackedLSTM(nn.Module):
    def __init__(self, input_size: int = 16, hidden_size: int = 64) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=2, dropout=0.2)
        self.regressor = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.regressor(out.mean(dim=0))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return StackedLSTM()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(24, 16, 16),)
