"""An nn.LSTMCell stepped in a Python loop over 16 steps (an RL policy or a seq2seq decoder's way), every step to a head: ok."""

import torch
from torch import nn


class CellLoop(nn.Module):
    def __init__(self, inputs: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = hidden
        self.cell = nn.LSTMCell(inputs, hidden)
        self.head = nn.Linear(hidden, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.new_zeros(x.size(0), self.hidden)
        c = x.new_zeros(x.size(0), self.hidden)
        outs = []
        for t in range(x.size(1)):
            h, c = self.cell(x[:, t], (h, c))
            outs.append(h)
        return self.head(torch.stack(outs, dim=1))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return CellLoop()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 16, 32),)
