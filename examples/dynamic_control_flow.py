"""A model whose forward branches on the data, which torch.fx cannot trace.

``if x.norm() > ...`` needs a concrete value; gradlint falls back to another
tracing method and says so in its report.
"""

import torch
from torch import nn


class DataDependentNet(nn.Module):
    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.inp = nn.Linear(16, width)
        self.small = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.large = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.out = nn.Linear(width, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        if h.norm() > 10.0:  # noqa: SIM108 - the branch on a value is what this example is about
            h = self.large(h)
        else:
            h = self.small(h)
        return self.out(h)


def build_model() -> nn.Module:
    return DataDependentNet()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 16),)
