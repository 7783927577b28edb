"""A 10-layer ReLU MLP with He init and Dropout(0.2) after every layer, in train mode: dropout's 1/(1-p) rescaling makes gradients grow slowly toward the input: ok."""

import torch
from torch import nn


class DropoutMLP(nn.Module):
    def __init__(
        self, in_features: int = 128, width: int = 256, depth: int = 10, classes: int = 10, p: float = 0.2
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_features
        for _ in range(depth - 1):
            layers += [nn.Linear(d, width), nn.ReLU(), nn.Dropout(p)]
            d = width
        layers.append(nn.Linear(d, classes))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return DropoutMLP()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(32, 128),)
