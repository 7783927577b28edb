"""A lint never changes the user's model: parameters, buffers, grads, flags, hooks, device."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import torch
from torch import nn

import gradlint
import gradlint.cli
import gradlint.types
from gradlint.load import load_target, parse_target
from gradlint.report import load_schema

from .conftest import EXAMPLES


def snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "attributes": {n: _attributes(m) for n, m in model.named_modules()},
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


_STATE = ("_parameters", "_buffers", "_modules", "training")


def _attributes(module: nn.Module) -> dict[str, Any]:
    """Every ``__dict__`` entry: tensors by value, anything else by identity (a pass must not rebind any of them)."""
    return {
        key: value.detach().clone() if isinstance(value, torch.Tensor) else _Same(value)
        for key, value in vars(module).items()
        if key not in _STATE and not key.endswith("hooks")
    }


class _Same:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value

    def __repr__(self) -> str:
        return f"_Same({self.value!r})"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a.nan_to_num(), b.nan_to_num())
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
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


def _lint_untouched(model: nn.Module, inputs: Any, **options: Any) -> gradlint.types.ModelReport:
    """Lint ``model`` with the probe and check that every pass left it exactly as it was."""
    before = snapshot(model)
    (report,) = gradlint.lint(model, inputs, probe=True, device="cpu", probe_seeds=[1], **options).models
    assert _equal(snapshot(model), before)
    return report


class CachesMask(nn.Module):
    """The PyTorch word-language-model shape: the forward builds a mask once and keeps it on ``self``."""

    def __init__(self) -> None:
        super().__init__()
        self.src_mask: torch.Tensor | None = None
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.src_mask is None or self.src_mask.size(0) != x.size(1):
            self.src_mask = torch.triu(torch.ones(x.size(1), x.size(1)), diagonal=1)
        mixed = torch.einsum("st,bti->bsi", 1 - self.src_mask, x)
        return self.out(torch.relu(self.fc(mixed)))


def test_a_forward_caching_a_tensor_on_self() -> None:
    model = CachesMask()
    report = _lint_untouched(model, torch.randn(2, 5, 8))
    assert model.src_mask is None  # neither a proxy, a fake, a meta nor a real mask was left on it
    assert report.probe is not None and report.probe_error is None  # the meta memory estimate did not poison it
    assert all(w.log10_grad_rms is not None for w in report.probe.weights)


class AssignsThenBranches(nn.Module):
    """fx records ``self.freqs_cis = ...`` (a Proxy) and then fails on the data-dependent branch."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.register_buffer("base", torch.linspace(0, 1, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.freqs_cis = torch.cos(self.base)
        if x.sum() > -1e9:
            x = x * self.freqs_cis
        return self.fc(x)


def test_fx_failing_after_an_assignment_leaves_nothing_for_the_hooks() -> None:
    model = AssignsThenBranches()
    report = _lint_untouched(model, torch.randn(4, 8))
    assert "freqs_cis" not in vars(model)
    assert report.graph.trace.method == "hooks"
    assert report.graph.trace.failed[0].method == "fx"


class ReassignsBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls = self.calls + 1  # a new tensor in _buffers, not an in-place update
        return self.fc(x)


def test_a_forward_reassigning_a_buffer() -> None:
    model = ReassignsBuffer()
    buffer = model.calls
    _lint_untouched(model, torch.randn(4, 8))
    assert model.calls is buffer and float(buffer) == 0.0


class ClosesOverSubmodules(nn.Module):
    """A lambda made in ``__init__``: ``deepcopy`` keeps it, so a plain copy would run the user's own layers."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 4)
        fc1, bn = self.fc1, self.bn
        self.body = lambda x: torch.relu(bn(fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.body(x))


def test_a_lambda_closing_over_submodules_runs_the_copy() -> None:
    model = ClosesOverSubmodules()
    report = _lint_untouched(model, torch.randn(8, 8))  # no .grad written, BatchNorm statistics unchanged
    assert all(p.grad is None for p in model.parameters())
    assert report.probe is not None
    assert {w.name for w in report.probe.weights if w.log10_grad_rms is not None} == {"fc1.weight", "fc2.weight"}


def _reaches_through_a_holder() -> nn.Module:
    class Held(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(8, 16)
            self.fc2 = nn.Linear(16, 4)
            holder = [self.fc1]  # no copy of this list exists: the copy's lambda still calls the user's fc1
            self.body = lambda x: torch.relu(holder[0](x))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.body(x))

    return Held()


def test_a_copy_that_still_reaches_the_user_is_not_used() -> None:
    model = _reaches_through_a_holder()
    report = _lint_untouched(model, torch.randn(8, 8))
    assert report.probe is None
    assert "reads fc1.weight of the original model" in report.probe_error
    assert report.estimates is not None and report.estimates.weights  # the static result stays


def test_the_probe_rebuilds_when_the_copy_reaches_the_user(model_file: Any) -> None:
    path = model_file(
        """
        import torch
        from torch import nn

        class Held(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(8, 16)
                self.fc2 = nn.Linear(16, 4)
                holder = [self.fc1]
                self.body = lambda x: torch.relu(holder[0](x))

            def forward(self, x):
                return self.fc2(self.body(x))
        """
    )
    (loaded,) = load_target(parse_target(f"{path}:Held"))
    assert loaded.rebuild is not None
    before = snapshot(loaded.model)
    report = gradlint.api._lint_loaded(loaded, (), gradlint.LintOptions(probe=True, device="cpu", probe_seeds=(1,)))
    assert _equal(snapshot(loaded.model), before)
    assert report.probe_error is None and report.probe is not None
    assert all(w.log10_grad_rms is not None for w in report.probe.weights)


class OldWeightNorm(nn.Module):
    """``torch.nn.utils.weight_norm`` keeps ``weight`` as a computed tensor: ``copy.deepcopy`` refuses the module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv1d(4, 8, 3, padding=1))
        self.head = nn.Conv1d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)))


@pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")
def test_old_weight_norm_is_copied_traced_and_probed() -> None:
    model = OldWeightNorm()
    with pytest.raises(RuntimeError):
        copy.deepcopy(model)
    report = _lint_untouched(model, torch.randn(2, 4, 16))
    assert report.probe is not None and report.probe_error is None
    assert {w.name for w in report.probe.weights} >= {"conv.weight_v", "head.weight"}


def test_the_probe_rebuilds_when_deepcopy_fails(model_file: Any) -> None:
    path = model_file(
        """
        from torch import nn

        class Stateful(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)
                self.schedule = (step for step in range(10))  # a generator: deepcopy cannot copy it

            def forward(self, x):
                return self.fc(x)
        """
    )
    (loaded,) = load_target(parse_target(f"{path}:Stateful"))
    with pytest.raises(TypeError):
        copy.deepcopy(loaded.model)
    before = snapshot(loaded.model)
    report = gradlint.api._lint_loaded(loaded, (), gradlint.LintOptions(probe=True, device="cpu", probe_seeds=(1,)))
    assert _equal(snapshot(loaded.model), before)
    assert report.probe is not None and [w.name for w in report.probe.weights] == ["fc.weight"]

    (report,) = gradlint.lint(loaded.model, loaded.example_inputs, probe=True, device="cpu").models
    assert "copy.deepcopy failed: TypeError" in report.probe_error  # no class to rebuild from: said, not hidden
    assert report.estimates is not None


def test_a_failed_probe_keeps_the_static_result_in_json(model_file: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = model_file(
        """
        import torch
        from torch import nn

        class Shape(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                if not torch.is_grad_enabled():  # the trace's no-grad forward passes, the probe's fails
                    return self.fc(x)
                raise ValueError("refuses to train")
        """
    )
    code = gradlint.cli.main([f"{path}:Shape", "--probe", "--device", "cpu", "--format", "json"])
    out, err = capsys.readouterr()
    document = json.loads(out)
    jsonschema.validate(document, load_schema())
    (model,) = document["models"]
    assert "ValueError: refuses to train" in model["probe"]["error"]
    assert model["verdict"] in ("ok", "vanishing", "exploding") and model["weights"]
    assert document["errors"] == []
    assert code == 2 and "probe failed" in err
