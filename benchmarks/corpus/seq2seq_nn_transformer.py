"""A tiny encoder-decoder nn.Transformer (2+2 layers, Post-LN) with source and target embeddings and a causal target mask: ok."""

import torch
from torch import nn


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab: int = 600, tgt_vocab: int = 600, d_model: int = 64) -> None:
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, d_model)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model)
        self.transformer = nn.Transformer(
            d_model=d_model,
            nhead=4,
            num_encoder_layers=2,
            num_decoder_layers=2,
            dim_feedforward=128,
            dropout=0.1,
            batch_first=True,
        )
        self.generator = nn.Linear(d_model, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1))
        out = self.transformer(self.src_emb(src), self.tgt_emb(tgt), tgt_mask=mask)
        return self.generator(out)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return Seq2Seq()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 600, (8, 24)), torch.randint(0, 600, (8, 20)))
