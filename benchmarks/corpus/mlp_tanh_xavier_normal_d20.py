"""A 20-layer tanh MLP with Glorot init (xavier_normal_): gradients shrink slowly through tanh's curvature, still ok at this depth."""

import torch
from torch import nn


def mlp(in_features: int, width: int, depth: int, out_features: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth - 1):
        layers.append(nn.Linear(in_features if i == 0 else width, width))
        layers.append(nn.Tanh())
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    model = mlp(100, 128, 20, 10)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 100),)
