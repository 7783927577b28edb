"""A 12-layer Post-LN Transformer encoder (norm_first=False, PyTorch's default).

Xiong et al. (2020): with Post-LN the gradients of the last layers are large at
init and training needs learning-rate warm-up; Pre-LN (norm_first=True) does not.
"""

import torch
from torch import nn


class PostLNTransformer(nn.Module):
    def __init__(self, vocab: int = 1000, d_model: int = 128, heads: int = 4, layers: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.lm_head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.encoder(self.embed(tokens)))


def build_model() -> nn.Module:
    return PostLNTransformer()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 1000, (8, 32)),)
