"""Static analysis on the meta device: statistics from the recorded init calls agree with the real weights."""

from __future__ import annotations

import math

import torch
from torch import nn

from gradlint.estimate import estimate
from gradlint.load import ConstructionRecorder
from gradlint.trace import trace_model
from gradlint.types import InputSpec, LoadedModel, frozen_mapping


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(64, 256)
        self.fc2 = nn.Linear(256, 256)
        self.head = nn.Linear(256, 10)
        nn.init.kaiming_normal_(self.conv2.weight, nonlinearity="relu")
        nn.init.xavier_uniform_(self.fc2.weight, gain=nn.init.calculate_gain("tanh"))
        nn.init.orthogonal_(self.head.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        x = torch.flatten(self.pool(x), 1)
        x = torch.tanh(self.fc2(torch.relu(self.fc1(x))))
        return self.head(x)


def _loaded(device: str) -> LoadedModel:
    torch.manual_seed(0)
    with ConstructionRecorder() as recorder, torch.device(device):
        model = Net()
    inputs = (torch.randn(8, 3, 16, 16),)
    return LoadedModel(
        target=f"Net on {device}",
        name="Net",
        source_path=__file__,
        model=model,
        example_inputs=inputs,
        inputs=(InputSpec((8, 3, 16, 16), "float32", "test"),),
        construction_sites=frozen_mapping(recorder.sites_for(model)),
        init_records=frozen_mapping(recorder.init_records_for(model)),
    )


def test_meta_predictions_match_real_weights() -> None:
    real = trace_model(_loaded("cpu"))
    meta_loaded = _loaded("meta")
    meta = trace_model(meta_loaded)
    assert all(p.device.type == "meta" for p in meta_loaded.model.parameters())
    assert meta.trace.method == "fx"
    real_est, meta_est = estimate(real), estimate(meta)
    for r, m in zip(real_est.weights, meta_est.weights):
        assert r.name == m.name
        assert r.log10_grad_rms is not None and m.log10_grad_rms is not None
        assert abs(r.log10_grad_rms - m.log10_grad_rms) <= 0.1, r.name
    assert real_est.verdict.verdict == meta_est.verdict.verdict
    stats = meta.params["fc2.weight"]
    assert stats.spectral_source == "random-matrix estimate"
    exact = real.params["fc2.weight"].spectral_norm
    assert stats.spectral_norm is not None and exact is not None
    assert abs(math.log(stats.spectral_norm / exact)) < 0.15
    assert meta.params["head.weight"].spectral_norm == pytest_approx(1.0)
    schemes = {w.name: w.init.scheme for w in meta.weights}
    assert schemes["conv2.weight"] == "kaiming_normal(relu, fan_in)"
    assert schemes["fc1.weight"] == "pytorch-default"


def pytest_approx(value: float):  # noqa: ANN201 - small local helper to keep the import list short
    import pytest

    return pytest.approx(value, rel=1e-6)
