"""A tanh nn.RNN (seq-first) with W_hh ~ N(0, 2.5²/H): chaotic regime, the gradient through 64 steps grows geometrically: exploding."""

import torch
from torch import nn


class ChaoticRNN(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 128) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        with torch.no_grad():
            self.rnn.weight_hh_l0.normal_(0.0, 2.5 / hidden_size**0.5)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h_n = self.rnn(x)
        return self.head(h_n[-1])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return ChaoticRNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(64, 16, 32),)
