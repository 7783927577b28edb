"""A tanh nn.RNN (batch_first) at default init, 32 steps, classifier on the last step: W_hh gain < 1, early-step contributions vanish but weights are ok."""

import torch
from torch import nn


class RNNClassifier(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 128, classes: int = 5) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return RNNClassifier()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 32, 32),)
