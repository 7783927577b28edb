"""A hand-written Elman RNN: one nn.Linear cell on [x_t, h] applied 32 times in a Python loop with tanh, default init: ok."""

import torch
from torch import nn


class LoopRNN(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 128, out_size: int = 10) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.cell = nn.Linear(input_size + hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape
        h = torch.zeros(batch, self.hidden_size)
        for t in range(steps):
            h = torch.tanh(self.cell(torch.cat([x[:, t], h], dim=1)))
        return self.out(h)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return LoopRNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 32, 32),)
