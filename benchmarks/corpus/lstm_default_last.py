"""A 1-layer nn.LSTM at default init (forget gate ≈ 0.5), 64 steps, last hidden state to a classifier: the cell path halves every step, W_hh's gradient falls below 1e-3: vanishing."""

import torch
from torch import nn


class LSTMClassifier(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 128, classes: int = 4) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.classifier = nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)
        return self.classifier(h_n[-1])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return LSTMClassifier()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 64, 32),)
