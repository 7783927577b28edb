"""A Pre-LN Transformer encoder (nn.TransformerEncoderLayer, norm_first=True, 4 layers) over token embeddings: residual stream grows ~√L, ok."""

import torch
from torch import nn


class PreLNEncoder(nn.Module):
    def __init__(
        self, vocab: int = 1000, d_model: int = 64, heads: int = 4, layers: int = 4, max_len: int = 64
    ) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=4 * d_model,
            dropout=0.1,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos[:, : ids.size(1)]
        return self.head(self.norm(self.encoder(x)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return PreLNEncoder()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 1000, (16, 32)),)
