"""A Post-LN Transformer encoder (nn.TransformerEncoderLayer, norm_first=False, 6 layers, ReLU FFN) on continuous features: ok at init."""

import torch
from torch import nn


class PostLNEncoder(nn.Module):
    def __init__(
        self, in_features: int = 40, d_model: int = 64, heads: int = 4, layers: int = 6, classes: int = 10
    ) -> None:
        super().__init__()
        self.input_proj = nn.Linear(in_features, d_model)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=256, dropout=0.1, batch_first=True),
            num_layers=layers,
            enable_nested_tensor=False,
        )
        self.classifier = nn.Linear(d_model, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.input_proj(x))
        return self.classifier(h.mean(dim=1))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return PostLNEncoder()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 32, 40),)
