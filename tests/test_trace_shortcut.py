"""Shape propagation on meta tensors skips the kernels of same-shape layers: same shapes, same errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradlint.trace import fx_trace
from gradlint.trace.copies import meta_copy, to_meta


def shapes(model: nn.Module, x: torch.Tensor, *, shortcut: bool) -> dict[str, object]:
    graph = fx_trace._Tracer().trace(model)
    recorder = fx_trace._Recorder(meta_copy(model), graph, on_meta=shortcut)
    with torch.no_grad():
        recorder.run(*to_meta([x]))
    return recorder.values


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(8 * 7 * 7, 5)
        self.bn1 = nn.BatchNorm1d(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn1(self.fc(self.drop(self.act(self.bn(self.conv(x)))).flatten(1)))


def test_same_shapes_as_the_kernels() -> None:
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    model = Net().double()
    assert shapes(model, x, shortcut=True) == shapes(model, x, shortcut=False)
    assert shapes(model, x, shortcut=True)["bn"] == ((4, 8, 7, 7), "float64")


@pytest.mark.parametrize("x", [torch.randn(4, 3, 16), torch.randn(1, 3, 1, 1)], ids=["3-d input", "one value"])
def test_batch_norm_errors_stay(x: torch.Tensor) -> None:
    model = nn.Sequential(nn.BatchNorm2d(3))
    with pytest.raises(fx_trace.ForwardFailure):
        shapes(model, x, shortcut=True)
