"""Init schemes: recorded while the model is built, else classified from the values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gradlint.load import load_target, parse_target
from gradlint.trace import trace_model
from gradlint.trace.init_scheme import classify_init


def schemes(model_file, body: str) -> dict[str, tuple[str, str]]:
    source = f"""
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 128)
        self.b = nn.Linear(128, 128)
        self.conv = nn.Conv2d(3, 16, 3)
        self.rnn = nn.LSTM(8, 32)
{body}

    def forward(self, x):
        return self.b(self.a(x))

EXAMPLE_INPUTS = (torch.randn(4, 64),)
"""
    (loaded,) = load_target(parse_target(str(model_file(source))))
    graph = trace_model(loaded)
    return {w.name: (w.init.scheme, w.init.source) for w in graph.weights}


def test_pytorch_defaults_are_recorded(model_file) -> None:
    found = schemes(model_file, "")
    assert found["a.weight"] == ("pytorch-default", "recorded")
    assert found["conv.weight"] == ("pytorch-default", "recorded")
    assert found["rnn.weight_hh_l0"] == ("pytorch-default", "recorded")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('nn.init.kaiming_normal_(self.a.weight, nonlinearity="relu")', "kaiming_normal(relu, fan_in)"),
        (
            'nn.init.kaiming_uniform_(self.a.weight, mode="fan_out", nonlinearity="tanh")',
            "kaiming_uniform(tanh, fan_out)",
        ),
        ("nn.init.xavier_uniform_(self.a.weight, gain=nn.init.calculate_gain('tanh'))", "xavier_uniform(gain=1.667)"),
        ("nn.init.orthogonal_(self.a.weight, gain=2.0)", "orthogonal(gain=2)"),
        ("nn.init.normal_(self.a.weight, std=0.02)", "normal(std=0.02)"),
        ("nn.init.normal_(self.a.weight, std=1 / 64 ** 0.5)", "lecun_normal(std=0.125)"),
        ("nn.init.trunc_normal_(self.a.weight, std=0.02)", "trunc_normal(std=0.02)"),
        ("nn.init.zeros_(self.a.weight)", "zeros"),
        ("self.a.weight.data.normal_(0.0, 0.05)", "normal(std=0.05)"),
        ("nn.init.xavier_normal_(self.a.weight); self.a.weight.data.mul_(0.5)", "xavier_normal(gain=1) ×0.5"),
    ],
)
def test_recorded_schemes(model_file, call: str, expected: str) -> None:
    found = schemes(model_file, f"        with torch.no_grad():\n            {call}")
    assert found["a.weight"] == (expected, "recorded")


def test_forget_gate_slice_is_recorded_as_a_partial_write(model_file) -> None:
    (loaded,) = load_target(
        parse_target(
            str(
                model_file(
                    """
                    import torch
                    from torch import nn

                    class Net(nn.Module):
                        def __init__(self):
                            super().__init__()
                            self.rnn = nn.LSTM(8, 16)
                            with torch.no_grad():
                                self.rnn.bias_ih_l0[16:32].fill_(1.0)

                        def forward(self, x):
                            return self.rnn(x)[0]
                    """
                )
            )
        )
    )
    calls = [str(c) for c in loaded.init_records["rnn.bias_ih_l0"]]
    assert calls[-1] == "fill_(value=1) on 16 elements"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), "kaiming_normal(relu, fan_in)"),
        (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), "kaiming_uniform(relu, fan_in)"),
        (lambda w: nn.init.xavier_normal_(w), "xavier_normal(gain=1)"),
        (lambda w: nn.init.orthogonal_(w), "orthogonal(gain=1)"),
        (lambda w: nn.init.normal_(w, std=0.3), "normal(std=0.3)"),
        (lambda w: nn.init.uniform_(w, -0.5, 0.5), "uniform(±0.5)"),
        (lambda w: nn.init.zeros_(w), "zeros"),
        (lambda w: nn.init.constant_(w, 0.5), "constant(0.5)"),
        (lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), "pytorch-default"),
    ],
)
def test_statistics_when_nothing_was_recorded(make, expected: str) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(256, 512)
    with torch.no_grad():
        make(layer.weight)
    info = classify_init(layer.weight, layer, ())
    assert info.source == "statistics"
    assert info.scheme.startswith(expected.split("(")[0])
    if expected not in ("normal(std=0.3)", "uniform(±0.5)"):
        assert info.scheme == expected
    else:
        assert info.scheme.startswith(expected[:-2])
