"""The probe against a direct, independent computation of the reference protocol (DESIGN §2),
and the guarantees around it: the user's model untouched, non-finite sites, steps mode."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import statistics
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from gradlint.errors import GradlintError
from gradlint.probe import ProbeResult, probe
from gradlint.report.json_format import probe_to_dict

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def load_example(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gradlint_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def direct_protocol(model: nn.Module, inputs: tuple[torch.Tensor, ...], seeds=(1, 2, 3)) -> dict[str, float | None]:
    """DESIGN §2 in plain torch, written apart from gradlint.probe: name -> median log10 RMS (None if zero)."""
    per_seed: dict[str, list[float]] = {}
    for seed in seeds:
        m = copy.deepcopy(model).train()  # a fresh copy per seed: the model as built
        g = torch.Generator().manual_seed(seed)
        xs = [torch.randn(x.shape, generator=g, dtype=x.dtype) if x.is_floating_point() else x for x in inputs]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # dropout
            out = m(*xs)
            y = out if isinstance(out, torch.Tensor) else out[0]
            v = torch.randn(y.shape, generator=g)
            loss = (y * v).sum() / y.shape[0]
            loss.backward()
        for name, p in m.named_parameters():
            owner = m.get_submodule(name.rpartition(".")[0])
            if p.dim() < 2 or isinstance(owner, nn.Embedding):
                continue
            rms = 0.0 if p.grad is None else (p.grad.double().norm() / math.sqrt(p.numel())).item()
            per_seed.setdefault(name, []).append(math.log10(rms) if rms > 0 else -math.inf)
    medians = {name: statistics.median(values) for name, values in per_seed.items()}
    return {name: (None if value == -math.inf else value) for name, value in medians.items()}


#: What the probe should say about each example (None: no expectation, e.g. a data-dependent model).
EXPECTED_VERDICTS = {
    "deep_relu_mlp": "vanishing",
    "exploding_rnn": "exploding",
    "healthy_cnn": "ok",
    "post_ln_transformer": None,
    "dynamic_control_flow": None,
}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_probe_matches_direct_computation(path: Path) -> None:
    example = load_example(path)
    model, inputs = example.build_model(), example.example_inputs()
    result = probe(model, inputs, device="cpu")
    expected = direct_protocol(model, inputs)
    assert {w.name for w in result.weights} == set(expected)
    for w in result.weights:
        if expected[w.name] is None:
            assert w.blocked and w.log10_grad_rms is None, w.name
        else:
            assert w.log10_grad_rms is not None and not w.blocked, w.name
            assert abs(w.log10_grad_rms - expected[w.name]) <= 0.05, (w.name, w.log10_grad_rms, expected[w.name])
    if EXPECTED_VERDICTS.get(path.stem):
        assert result.verdict == EXPECTED_VERDICTS[path.stem], result.verdict_reason
    json.dumps(probe_to_dict(result), allow_nan=False)


def test_forward_order_places_functionally_used_weights_with_their_parent() -> None:
    """nn.MultiheadAttention uses out_proj.weight without calling out_proj."""
    example = load_example(next(p for p in EXAMPLES if p.stem == "post_ln_transformer"))
    model = example.build_model()
    model.encoder.layers = model.encoder.layers[:2]
    result = probe(model, (torch.randint(0, 1000, (2, 8)),), seeds=(1,))
    names = [w.name for w in result.weights]
    assert names[:4] == [
        "encoder.layers.0.self_attn.in_proj_weight",
        "encoder.layers.0.self_attn.out_proj.weight",
        "encoder.layers.0.linear1.weight",
        "encoder.layers.0.linear2.weight",
    ]
    assert names[-1] == "lm_head.weight"
    assert not any(n.startswith("embed") for n in names)
    indices = [w.forward_index for w in result.weights]
    assert indices == sorted(indices) and min(indices) >= 0


class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.frozen = nn.Linear(8, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(torch.relu(self.bn(self.conv(x)))).mean(dim=(2, 3))
        return self.head(self.frozen(h))


def _snapshot(model: nn.Module) -> dict[str, object]:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "training": {n: m.training for n, m in model.named_modules()},
        "devices": {n: p.device for n, p in model.named_parameters()},
        "hooks": {
            n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for n, m in model.named_modules()
        },
        "param_ids": [id(p) for p in model.parameters()],
    }


def _assert_same(before: dict[str, object], after: dict[str, object]) -> None:
    for key in ("requires_grad", "training", "devices", "hooks", "param_ids"):
        assert before[key] == after[key], key
    for name, value in before["state"].items():  # type: ignore[union-attr]
        assert torch.equal(value, after["state"][name]), name  # type: ignore[index]
    for name, grad in before["grads"].items():  # type: ignore[union-attr]
        other = after["grads"][name]  # type: ignore[index]
        assert (grad is None and other is None) or torch.equal(grad, other), name


def test_user_model_inputs_and_rng_untouched() -> None:
    torch.manual_seed(123)
    model = BNNet().eval()
    model.frozen.requires_grad_(False)
    model.conv.weight.grad = torch.ones_like(model.conv.weight)
    model.register_forward_hook(lambda *args: None)
    x = torch.randn(4, 3, 8, 8)
    x_before = x.clone()
    model_before = _snapshot(model)
    rng_before = torch.get_rng_state()

    result = probe(model, (x,), device="cpu", steps=3, lr=0.1)

    _assert_same(model_before, _snapshot(model))
    assert not model.training
    assert torch.equal(x, x_before)
    assert torch.equal(torch.get_rng_state(), rng_before)
    # The frozen layer is still measured: the protocol is about the architecture.
    assert not result.weight("frozen.weight").blocked


def test_probe_is_deterministic() -> None:
    model = BNNet()
    x = torch.randn(4, 3, 8, 8)
    a, b = probe(model, (x,)), probe(model, (x,))
    assert [w.per_seed for w in a.weights] == [w.per_seed for w in b.weights]
    assert probe_to_dict(a)["activations"] == probe_to_dict(b)["activations"]


def _mlp(width: int = 32, depth: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(16, width), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 4))
    return nn.Sequential(*layers)


def test_nan_weight_reported_with_first_nonfinite_layer() -> None:
    torch.manual_seed(0)
    model = _mlp()
    with torch.no_grad():
        model[2].weight[3, 5] = float("nan")
    result = probe(model, (torch.randn(8, 16),))
    site = result.first_nonfinite
    assert site is not None
    assert (site.phase, site.module, site.module_type) == ("forward", "2", "Linear")
    assert "2.weight" in site.what and "NaN" in site.what
    assert result.verdict == "exploding"
    # Later weights see NaN inputs; earlier ones get NaN back through 2.weight.
    assert result.weight("4.weight").nonfinite and result.weight("0.weight").nonfinite
    assert any(a.nonfinite for a in result.activations if a.module == "2")
    json.dumps(probe_to_dict(result), allow_nan=False)


class FunctionalNaN(nn.Module):
    """sqrt of a negative number in a forward, outside any submodule."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Linear(4, 4)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sqrt(self.block["a"](x) - 100.0)
        return self.block["b"](h)


def test_nonfinite_from_a_functional_op_names_the_enclosing_forward() -> None:
    result = probe(FunctionalNaN(), (torch.randn(4, 4),))
    site = result.first_nonfinite
    assert site is not None and site.phase == "forward" and site.module == ""
    assert "functional op" in site.what and "block.b" in site.what


class BackwardNaN(nn.Module):
    """Finite forward, NaN backward: d sqrt(u)/du at u = 0 is infinite."""

    def __init__(self) -> None:
        super().__init__()
        self.lin1 = nn.Linear(4, 4)
        self.lin2 = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin2(torch.sqrt(self.lin1(x) * 0.0))


def test_nonfinite_in_backward_only() -> None:
    result = probe(BackwardNaN(), (torch.randn(4, 4),))
    site = result.first_nonfinite
    assert site is not None
    assert (site.phase, site.module) == ("backward", "lin1")
    assert result.weight("lin1.weight").nonfinite and not result.weight("lin2.weight").nonfinite
    assert result.verdict == "exploding"


def test_steps_flags_divergence_at_high_lr_only() -> None:
    torch.manual_seed(0)
    model = _mlp()
    x = (torch.randn(32, 16),)
    high = probe(model, x, steps=20, lr=10.0, optimizer="sgd").steps
    low = probe(model, x, steps=20, lr=1e-3, optimizer="sgd").steps
    adam = probe(model, x, steps=20, lr=1e-3, optimizer="adam").steps
    assert high is not None and low is not None and adam is not None
    assert high.diverged, high
    assert not low.diverged, low
    assert not adam.diverged and adam.losses[-1] < adam.losses[0], adam
    assert len(low.losses) == 21 and low.lr == 1e-3 and low.optimizer.name == "sgd"


def test_memory_guard_refuses_with_one_clear_line() -> None:
    with pytest.raises(GradlintError) as info:
        probe(_mlp(), (torch.randn(8, 16),), memory_limit_bytes=1000)
    message = str(info.value)
    assert "\n" not in message
    assert "needs about" in message and "available" in message and "--input-shape" in message


def test_memory_estimate_is_recorded() -> None:
    result = probe(_mlp(), (torch.randn(8, 16),))
    assert result.memory is not None and result.memory.source == "meta"
    assert result.memory.activations_bytes > 8 * 32 * 4
    assert result.memory.needed_bytes >= result.memory.weights_bytes


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(GradlintError, match="CUDA is not available"):
        probe(_mlp(), (torch.randn(8, 16),), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    model = _mlp()
    x = (torch.randn(8, 16),)
    cpu, cuda = probe(model, x, device="cpu"), probe(model, x, device="cuda")
    assert cuda.device.startswith("cuda")
    for a, b in zip(cpu.weights, cuda.weights):
        assert abs(a.log10_grad_rms - b.log10_grad_rms) < 1e-3  # type: ignore[operator]
    assert next(model.parameters()).device.type == "cpu"


class _LastStep(nn.Module):
    """An LSTM whose final states (h_n, c_n) are not used: cuDNN gives them a None gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_recurrent_matches_cpu() -> None:
    torch.manual_seed(0)
    model = _LastStep()
    x = (torch.randn(8, 12, 16),)
    cpu, cuda = probe(model, x, device="cpu"), probe(model, x, device="cuda")
    assert [w.name for w in cpu.weights] == [w.name for w in cuda.weights]
    for a, b in zip(cpu.weights, cuda.weights):
        assert abs(a.log10_grad_rms - b.log10_grad_rms) < 1e-2  # type: ignore[operator]


def test_auto_device_on_cpu_machine() -> None:
    result: ProbeResult = probe(_mlp(), (torch.randn(8, 16),), device="auto", seeds=(7,))
    assert result.device.startswith("cuda") if torch.cuda.is_available() else result.device == "cpu"
    assert result.seeds == (7,)
    assert all(len(w.per_seed) == 1 for w in result.weights)
