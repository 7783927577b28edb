"""A tanh nn.RNN whose W_hh is set to orthogonal ×0.5 (spectral radius 0.5), all 48 steps read out: memory dies within a few steps, weights ok."""

import torch
from torch import nn


class ShortMemoryRNN(nn.Module):
    def __init__(self, input_size: int = 16, hidden_size: int = 64) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=0.5)
        self.readout = nn.Linear(hidden_size, input_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)
        return self.readout(h)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return ShortMemoryRNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 48, 16),)
