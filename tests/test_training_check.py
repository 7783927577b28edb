"""The training check (DESIGN §2b): the static prediction against --probe-steps, its numbers, options and output."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

import gradlint
from gradlint.cli import main
from gradlint.errors import UsageError
from gradlint.estimate import estimate
from gradlint.estimate.training import check_training, training_trouble
from gradlint.optimizers import optimizer_config
from gradlint.probe import probe
from gradlint.report.json_format import load_schema, report_to_dict
from gradlint.trace import trace_model
from gradlint.types import LoadedModel, frozen_mapping

jsonschema = pytest.importorskip("jsonschema")


class MLP(nn.Module):
    def __init__(self, depth: int = 2, width: int = 32, act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(16 if i == 0 else width, width), act()]
        self.net = nn.Sequential(*layers, nn.Linear(width, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _model(**kwargs: object) -> nn.Module:
    torch.manual_seed(0)
    return MLP(**kwargs)  # type: ignore[arg-type]


X = (torch.randn(16, 16),)


def _graph(model: nn.Module):  # noqa: ANN202 - a ModelGraph
    loaded = LoadedModel("t", "MLP", "<model>", model, X, (), frozen_mapping(), frozen_mapping())
    return trace_model(loaded)


@pytest.mark.parametrize(
    ("model_kwargs", "settings", "expected"),
    [
        ({}, {"optimizer": "adamw", "lr": 1e-3}, "trains"),
        ({}, {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9}, "trains"),
        ({}, {"optimizer": "sgd", "lr": 30.0}, "diverges"),
        ({"depth": 10, "act": nn.Tanh}, {"optimizer": "sgd", "lr": 1e-4}, "stalls"),
    ],
    ids=["adamw-trains", "sgd-momentum-trains", "sgd-high-lr-diverges", "sgd-deep-tanh-stalls"],
)
def test_prediction_agrees_with_probe_steps(model_kwargs: dict, settings: dict, expected: str) -> None:
    model = _model(**model_kwargs)
    report = gradlint.lint(model, X, probe_steps=150, probe_seeds=(1,), select=[], **settings)
    (result,) = report.models
    assert result.estimates is not None and result.estimates.training is not None
    assert result.probe is not None and result.probe.steps is not None
    assert result.probe.steps.verdict == expected, result.probe.steps.reason
    assert result.estimates.training.verdict == expected, result.estimates.training.reason


def test_probe_steps_are_deterministic_and_leave_the_model_alone() -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = optimizer_config("adam", lr=1e-2, clip_grad_norm=0.5)
    a = probe(model, X, seeds=(1,), steps=20, optimizer=config).steps
    b = probe(model, X, seeds=(1,), steps=20, optimizer=config).steps
    assert a is not None and b is not None
    assert a.losses == b.losses and len(a.losses) == 21
    assert a.loss_ratio == pytest.approx(a.losses[-1] / a.losses[0])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_max_lr_separates_training_from_divergence() -> None:
    graph = _graph(_model())
    est = estimate(graph)
    for name in ("sgd", "adam", "rmsprop"):
        config = optimizer_config(name)
        max_lr = check_training(graph, est, config, 150).max_lr
        assert max_lr is not None
        assert check_training(graph, est, replace(config, lr=max_lr * 0.9), 150).verdict == "trains"
        assert check_training(graph, est, replace(config, lr=max_lr * 1.2), 150).verdict == "diverges"
        verdicts = [check_training(graph, est, replace(config, lr=10.0**e), 150).verdict for e in range(-7, 3)]
        order = {"stalls": 0, "trains": 1, "diverges": 2}
        assert [order[v] for v in verdicts] == sorted(order[v] for v in verdicts)  # monotone in lr


def test_larger_gradients_lower_sgds_max_lr() -> None:
    small, large = _model(), _model()
    with torch.no_grad():
        for layer in large.net:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(3.0)
    sgd = optimizer_config("sgd")
    lrs = []
    for model in (small, large):
        graph = _graph(model)
        lrs.append(check_training(graph, estimate(graph), sgd, 150).max_lr)
    assert lrs[0] is not None and lrs[1] is not None and lrs[1] < lrs[0]


def test_recommended_clip_makes_a_diverging_sgd_run_train() -> None:
    graph = _graph(_model())
    est = estimate(graph)
    config = optimizer_config("sgd", lr=30.0)
    check = check_training(graph, est, config, 150)
    assert check.verdict == "diverges" and check.recommended_clip_grad_norm is not None
    assert check.recommended_clip_grad_norm < check.global_grad_norm
    clipped = check_training(graph, est, replace(config, clip_grad_norm=check.recommended_clip_grad_norm), 150)
    assert clipped.verdict != "diverges"
    adam = check_training(graph, est, optimizer_config("adam"), 150)
    assert adam.recommended_clip_grad_norm == pytest.approx(check.global_grad_norm, rel=0.1)  # the init norm


def test_training_trouble_for_the_verdict_rules() -> None:
    graph = _graph(_model())
    est = estimate(graph)
    assert training_trouble(est) is None  # no check attached
    diverging = replace(est, training=check_training(graph, est, optimizer_config("sgd", lr=30.0), 150))
    assert training_trouble(diverging) == "diverges" and diverging.training.predicts_trouble
    fine = replace(est, training=check_training(graph, est, optimizer_config("adam"), 150))
    assert training_trouble(fine) is None


def test_json_shape_and_the_default_optimizer_note(capsys: pytest.CaptureFixture[str]) -> None:
    default = report_to_dict(gradlint.lint(_model(), X))
    jsonschema.validate(default, load_schema())
    training = default["models"][0]["training"]
    assert training["optimizer"] == "adamw" and training["lr"] == 1e-3 and training["default_optimizer"] is True
    assert training["verdict"] in ("trains", "diverges", "stalls")
    assert [w["name"] for w in training["weights"]] == ["net.0.weight", "net.2.weight", "net.4.weight"]
    assert all(w["update_ratio"] > 0 for w in training["weights"])
    assert "measured_verdict" not in training

    configured = report_to_dict(
        gradlint.lint(_model(), X, optimizer="sgd", lr=0.1, momentum=0.9, probe_steps=5, probe_seeds=(1,))
    )
    jsonschema.validate(configured, load_schema())
    training = configured["models"][0]["training"]
    assert (training["optimizer"], training["lr"], training["momentum"], training["default_optimizer"]) == (
        "sgd",
        0.1,
        0.9,
        False,
    )
    assert training["betas"] is None and training["eps"] is None
    assert training["measured_verdict"] in ("trains", "diverges", "stalls") and training["measured_steps"] == 5

    report = gradlint.lint(_model(), X)
    from gradlint.report.text import training_lines

    (line,) = training_lines(report.models[0])
    assert line.startswith("training check (adamw lr 0.001") and "the default, no optimizer configured" in line
    (line,) = training_lines(gradlint.lint(_model(), X, optimizer="adam", lr=1e-3).models[0])
    assert "default" not in line and "max lr" in line


def test_optimizer_settings_are_checked() -> None:
    with pytest.raises(UsageError, match="--betas applies to adam and adamw"):
        optimizer_config("sgd", betas=(0.9, 0.99))
    with pytest.raises(UsageError, match="--momentum applies to sgd and rmsprop"):
        optimizer_config("adam", momentum=0.9)
    with pytest.raises(UsageError, match="--eps applies"):
        optimizer_config("sgd", eps=1e-8)
    with pytest.raises(UsageError, match="--optimizer lbfgs"):
        optimizer_config("lbfgs")
    assert optimizer_config().default and not optimizer_config("adamw").default
    assert optimizer_config("rmsprop").lr == 1e-2 and optimizer_config("adamw").weight_decay == 0.01


def test_cli_flags_and_config_keys(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "net.py"
    model.write_text(
        "import torch\nfrom torch import nn\n\n"
        "def build_model():\n    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))\n\n"
        "EXAMPLE_INPUTS = (torch.randn(16, 16),)\n",
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gradlint]\noptimizer = "adam"\nlr = 0.002\nbetas = [0.8, 0.99]\neps = 1e-10\nclip-grad-norm = 1.5\n',
        encoding="utf-8",
    )
    main([str(model), "--format", "json", "--exit-zero"])
    training = json.loads(capsys.readouterr().out)["models"][0]["training"]
    assert (training["optimizer"], training["lr"], training["betas"], training["eps"], training["clip_grad_norm"]) == (
        "adam",
        0.002,
        [0.8, 0.99],
        1e-10,
        1.5,
    )
    main([str(model), "--format", "json", "--exit-zero", "--optimizer", "sgd", "--lr", "0.1", "--weight-decay", "0.01",
          "--isolated"])  # fmt: skip
    training = json.loads(capsys.readouterr().out)["models"][0]["training"]
    assert (training["optimizer"], training["lr"], training["weight_decay"]) == ("sgd", 0.1, 0.01)
    code = main([str(model), "--optimizer", "sgd", "--betas", "0.9,0.99", "--isolated"])
    err = capsys.readouterr().err
    assert code == 2 and "--betas applies to adam and adamw" in err and "Traceback" not in err


def test_eps_finding_follows_the_configured_eps() -> None:
    model = _model(depth=8, act=nn.Tanh)
    with torch.no_grad():
        for layer in model.net:
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0, 0.01)
    default = gradlint.lint(model, X, select=["GL103"])
    (finding,) = default.findings
    suggested = finding.evidence["recommended_eps"]
    assert suggested < finding.evidence["smallest_grad_rms"] and "eps=" in (finding.fix.code or "")
    assert not gradlint.lint(model, X, select=["GL103"], optimizer="adamw", eps=suggested).findings
    assert not gradlint.lint(model, X, select=["GL103"], optimizer="sgd", lr=0.1).findings
    assert math.isclose(math.log10(suggested), round(math.log10(suggested)))
