"""A loop RNN with separate input and hidden nn.Linear layers, W_hh = orthogonal ×3, tanh, 48 steps, outputs stacked: the recurrence explodes."""

import torch
from torch import nn


class LoopRNN(nn.Module):
    def __init__(self, input_size: int = 16, hidden_size: int = 64) -> None:
        super().__init__()
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size, bias=False)
        self.h2o = nn.Linear(hidden_size, input_size)
        nn.init.orthogonal_(self.h2h.weight, gain=3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.new_zeros(x.size(1), self.h2h.in_features)
        outputs = []
        for x_t in x.unbind(0):
            h = torch.tanh(self.i2h(x_t) + self.h2h(h))
            outputs.append(self.h2o(h))
        return torch.stack(outputs, dim=1)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return LoopRNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(48, 16, 16),)
