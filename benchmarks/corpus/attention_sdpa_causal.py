"""A Pre-LN causal decoder using F.scaled_dot_product_attention(is_causal=True), fused qkv, xavier init, 3 layers, continuous input: ok."""

import torch
import torch.nn.functional as F
from torch import nn


class SDPABlock(nn.Module):
    def __init__(self, d: int = 96, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, d))
        return x + self.ff(self.norm2(x))


class SDPADecoder(nn.Module):
    def __init__(self, in_features: int = 24, d: int = 96, layers: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(in_features, d)
        self.blocks = nn.Sequential(*[SDPABlock(d) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, in_features)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(x))))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SDPADecoder()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 32, 24),)
