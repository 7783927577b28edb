"""A lint never changes the user's model: parameters, buffers, grads, flags, hooks, device."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import gradlint
from gradlint.load import load_target, parse_target

from .conftest import EXAMPLES


def snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "params": {
            n: (p.detach().clone(), p.requires_grad, p.device, None if p.grad is None else p.grad.clone())
            for n, p in model.named_parameters()
        },
        "buffers": {n: b.clone() for n, b in model.named_buffers()},
        "training": {n: m.training for n, m in model.named_modules()},
        "hooks": {
            n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for n, m in model.named_modules()
        },
    }


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a.nan_to_num(), b.nan_to_num())
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_lint_api_leaves_model_untouched() -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    model[0].weight.grad = torch.ones_like(model[0].weight)
    model[4].weight.requires_grad_(False)
    model.eval()
    model[1].train()
    inputs = torch.randn(4, 8)
    before = snapshot(model)
    rng = torch.get_rng_state()
    report = gradlint.lint(model, inputs)
    assert report.models[0].graph.trace.method == "fx"
    assert _equal(snapshot(model), before)
    assert torch.equal(torch.get_rng_state(), rng)


def test_every_example_is_untouched_by_a_lint() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        for loaded in load_target(parse_target(str(path))):
            before = snapshot(loaded.model)
            gradlint.api._lint_loaded(loaded, (), gradlint.LintOptions())
            assert _equal(snapshot(loaded.model), before), path.name


def test_hooks_trace_leaves_the_example_inputs_untouched() -> None:
    class ScalesInPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > -1e9:  # data-dependent: fx cannot trace it, the hooks do
                x.mul_(2.0)
            return self.fc(x)

    inputs = torch.randn(4, 8)
    before = inputs.clone()
    (report,) = gradlint.lint(ScalesInPlace(), inputs).models
    assert report.graph.trace.method == "hooks"
    assert torch.equal(inputs, before)
