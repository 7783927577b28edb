"""A fastText-style text classifier: nn.Embedding, masked mean over tokens, then a 2-layer tanh MLP head at default init: ok."""

import torch
from torch import nn


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab: int = 5000, dim: int = 128, hidden: int = 64, classes: int = 4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.hidden = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != 0).unsqueeze(-1).float()
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        mean = summed / mask.sum(dim=1).clamp(min=1.0)
        return self.out(torch.tanh(self.hidden(mean)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return BagOfEmbeddings()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 5000, (32, 24)),)
