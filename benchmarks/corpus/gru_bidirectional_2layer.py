"""A 2-layer bidirectional nn.GRU encoder (seq-first) at default init, per-step outputs to a linear head: ok."""

import torch
from torch import nn


class BiGRUEncoder(nn.Module):
    def __init__(self, input_size: int = 32, hidden_size: int = 64, out_size: int = 8) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=2, bidirectional=True)
        self.proj = nn.Linear(2 * hidden_size, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.proj(out).transpose(0, 1)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return BiGRUEncoder()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 16, 32),)
