"""The fallback chain beyond plain fx: weights hidden in wrapped functions, and fx-timm applying to timm models only."""

from __future__ import annotations

import torch
import torch.fx
from torch import nn

from gradlint.api import lint


def scaled_projection(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x @ weight.t() * 0.5


torch.fx.wrap("scaled_projection")  # as torchvision wraps Swin's shifted_window_attention


class WrappedWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(16, 16) / 4)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(scaled_projection(x, self.weight)))


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) if x.sum() > 0 else self.b(x)


def test_fx_refuses_a_wrapped_function_taking_a_weight() -> None:
    (model,) = lint(WrappedWeight(), torch.randn(4, 16)).models
    trace = model.graph.trace
    assert trace.method == "hooks"
    assert [a.method for a in trace.failed] == ["fx"]
    assert trace.failed[0].error.startswith(
        "HiddenWeights: fx keeps scaled_projection() whole, and it takes the weight weight"
    )
    assert any(n.role == "matmul" for n in model.graph.nodes)  # the function's ops are in the graph
    assert model.estimates is not None and model.estimates.weight("weight").log10_grad_rms is not None


def test_fx_timm_is_skipped_for_other_models() -> None:
    (model,) = lint(DataDependent(), torch.randn(4, 8)).models
    assert model.graph.trace.method == "hooks"
    assert [a.method for a in model.graph.trace.failed] == ["fx", "export"]
