"""A 20-layer ReLU MLP left at PyTorch's default init.

``nn.Linear`` initialises with U(±1/sqrt(fan_in)) (variance 1/(3 fan_in)); under ReLU
every layer keeps only 1/6 of the gradient variance, so the first layers get
gradients about 10^-7 of the last ones. He init (kaiming_normal_, nonlinearity="relu") fixes it.
"""

import torch
from torch import nn


class DeepReLUMLP(nn.Module):
    def __init__(self, width: int = 256, depth: int = 20, in_features: int = 784, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_features, width), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    return DeepReLUMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 784),)
