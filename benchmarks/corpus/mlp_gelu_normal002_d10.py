"""A 10-layer GELU MLP at width 256 with BERT-style normal_(std=0.02): fan_in·Var = 0.1 per layer, so gradients vanish."""

import torch
from torch import nn


class GeluMLP(nn.Module):
    def __init__(self, width: int = 256, depth: int = 10) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.act = nn.GELU()
        self.classifier = nn.Linear(width, 2)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = self.act(layer(x))
        return self.classifier(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return GeluMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 256),)
