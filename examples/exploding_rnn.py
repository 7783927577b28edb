"""A vanilla tanh RNN whose recurrent matrix was scaled up by hand.

sigma_max(W_hh) is far above 1/max|tanh'| = 1, and over 64 steps the gradient
through time grows geometrically. Orthogonal W_hh plus gradient clipping fixes it.
"""

import torch
from torch import nn


class ExplodingRNN(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 128) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        with torch.no_grad():
            nn.init.normal_(self.rnn.weight_hh_l0, std=3.0 / hidden_size**0.5)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def build_model() -> nn.Module:
    return ExplodingRNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 64, 32),)
