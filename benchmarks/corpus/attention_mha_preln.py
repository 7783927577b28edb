"""Pre-LN blocks built from nn.MultiheadAttention (batch_first, need_weights=False) and a ReLU MLP, default init, 3 layers: ok."""

import torch
from torch import nn


class MHABlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=0.0, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        return x + self.mlp(self.ln2(x))


class MHAEncoder(nn.Module):
    def __init__(self, d: int = 64, heads: int = 8, layers: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MHABlock(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.cls = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.cls(self.ln(x)[:, 0])


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return MHAEncoder()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 24, 64),)
