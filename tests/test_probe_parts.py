"""The probe's parts: inputs and outputs, weights, guards, timeouts."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict

import pytest
import torch
from torch import nn

from gradlint.errors import GradlintError, UsageError
from gradlint.probe import probe
from gradlint.probe.deadline import Deadline
from gradlint.probe.io import first_tensor, protocol_inputs
from gradlint.probe.memory import activations_from_graph
from gradlint.probe.steps import judge_losses
from gradlint.probe.weights import protocol_weights
from gradlint.types import LayerNode, ModelGraph, TraceInfo, frozen_mapping


@dataclasses.dataclass
class Out:
    aux: int
    logits: torch.Tensor


def test_first_tensor_depth_first() -> None:
    a, b = torch.zeros(1), torch.ones(1)
    assert first_tensor(a) == (a, "output")
    assert first_tensor((None, [b, a]))[1] == "output[1][0]"  # type: ignore[index]
    assert first_tensor(OrderedDict(loss=None, logits=b))[1] == "output['logits']"  # type: ignore[index]
    assert first_tensor(Out(3, b))[1] == "output.logits"  # type: ignore[index]
    assert first_tensor({"x": 1}) is None


def test_a_distribution_stands_for_its_reparameterised_draw_else_its_mean() -> None:
    loc = torch.zeros(4, 3, requires_grad=True)
    normal = torch.distributions.Normal(loc, torch.ones(4, 3))
    y, where = first_tensor((normal, torch.ones(1)))  # type: ignore[misc]
    assert where == "output[0].rsample()" and y.shape == (4, 3) and y.requires_grad and y.std() > 0
    probs = torch.full((4, 3), 0.25)
    y, where = first_tensor(torch.distributions.Bernoulli(probs))  # type: ignore[misc]
    assert where == "output.mean" and torch.equal(y, probs)
    # a hook measuring a layer's output must not draw from the protocol's RNG
    state = torch.random.get_rng_state()
    assert first_tensor(normal, draw=False) is None
    assert torch.equal(torch.random.get_rng_state(), state)


class GaussianDecoder(nn.Module):
    """torchvae's VAE in miniature: the forward returns ``Normal(mu, sigma)``."""

    def __init__(self) -> None:
        super().__init__()
        self.mu = nn.Linear(8, 8)
        self.log_sigma = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mu(x), self.log_sigma(x).exp())


def test_the_probe_measures_a_model_that_returns_a_distribution() -> None:
    torch.manual_seed(0)
    result = probe(GaussianDecoder(), (torch.randn(16, 8),), device="cpu")
    assert {w.name for w in result.weights} == {"mu.weight", "log_sigma.weight"}
    assert all(w.log10_grad_rms is not None for w in result.weights)


def test_protocol_inputs_replace_floats_keep_ints() -> None:
    tokens = torch.randint(0, 10, (2, 3))
    x = torch.full((2, 4), 5.0, dtype=torch.float64)
    out = protocol_inputs((x, {"ids": tokens, "flag": True}), torch.Generator().manual_seed(1), torch.device("cpu"))
    assert out[0].dtype == torch.float64 and out[0].shape == x.shape
    assert torch.equal(out[0], torch.randn(2, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    assert torch.equal(out[1]["ids"], tokens) and out[1]["flag"] is True
    assert torch.all(x == 5.0)  # the original is not touched


class TiedLM(nn.Module):
    """Embedding tied to the output head, and a Linear used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.mix = nn.Linear(16, 16)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor, scale: float = 1.0) -> dict[str, torch.Tensor]:
        h = self.mix(torch.tanh(self.mix(self.embed(ids)))) * scale
        return {"logits": self.head(h), "hidden": h}


def test_tied_and_embedding_weights_and_dict_output() -> None:
    model = TiedLM()
    assert [w.name for w in protocol_weights(model)] == ["mix.weight"]  # the tied weight is embed.weight: excluded
    result = probe(model, {"ids": torch.randint(0, 50, (4, 6)), "scale": 2.0})
    assert [w.name for w in result.weights] == ["mix.weight"]
    assert result.output == "output['logits']" and result.output_shape == (4, 6, 50)


def test_hf_model_output() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    model = transformers.BertModel(config)
    result = probe(model, (torch.randint(0, 64, (2, 8)),), seeds=(1,))
    assert result.output == "output['last_hidden_state']"
    assert result.weights[0].name.startswith("encoder.layer.0.attention")
    assert all("embeddings" not in w.name for w in result.weights)
    assert all(w.log10_grad_rms is not None for w in result.weights if not w.blocked)


def test_usage_errors() -> None:
    model, x = nn.Linear(2, 2), (torch.randn(2, 2),)
    with pytest.raises(UsageError, match="--optimizer"):
        probe(model, x, steps=1, optimizer="lbfgs")
    with pytest.raises(UsageError, match="--probe-seeds"):
        probe(model, x, seeds=())
    with pytest.raises(UsageError, match="--device"):
        probe(model, x, device="tpu")
    with pytest.raises(UsageError, match="--lr"):
        probe(model, x, steps=1, lr=-1.0)


def test_model_failure_is_one_line() -> None:
    with pytest.raises(GradlintError, match="the model failed during the probe") as info:
        probe(nn.Linear(3, 2), (torch.randn(2, 4),))
    assert "\n" not in str(info.value)


def test_non_float_output_is_refused() -> None:
    class ArgMax(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.argmax(dim=1)

    with pytest.raises(GradlintError, match="not floating point"):
        probe(ArgMax(), (torch.randn(2, 3),))


class Sleepy(nn.Module):
    """Sleeps in every real forward from the ``from_call``-th on: the earlier seeds finish at once, however loaded the machine."""

    def __init__(self, seconds: float, from_call: int) -> None:
        super().__init__()
        self.seconds = seconds
        self.from_call = from_call
        self.calls = 0
        self.lin = nn.Linear(4, 4)
        self.out = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        if x.device.type != "meta":  # not during the memory estimate
            self.calls += 1
            if self.calls >= self.from_call:
                time.sleep(self.seconds)
        return self.out(h)


def test_timeout_names_the_limit_and_progress() -> None:
    with pytest.raises(GradlintError) as info:
        probe(Sleepy(3.0, from_call=2), (torch.randn(2, 4),), timeout_s=2.0)
    message = str(info.value)
    assert "timed out after 2 s (--probe-timeout)" in message
    assert "seed 2 (2 of 3)" in message and "finished: seed 1" in message
    assert "\n" not in message


def test_deadline_with_fake_clock() -> None:
    now = [0.0]
    deadline = Deadline(10.0, clock=lambda: now[0])
    deadline.stage = "training step 3 of 5 (--probe-steps)"
    deadline.check()
    now[0] = 11.0
    with pytest.raises(GradlintError, match="during training step 3 of 5"):
        deadline.check()
    Deadline(None).check()


def test_judge_losses() -> None:
    assert judge_losses([1.0, 0.5, 0.2]) == ("trains", 0.2, "loss went from 1 to 0.2 in 2 step(s) (×0.2)")
    verdict, ratio, reason = judge_losses([1.0, 50.0, 15.0])
    assert (verdict, ratio) == ("diverges", 15.0) and "more than ×10" in reason
    assert judge_losses([1.0, 50.0, 9.0])[0] == "stalls"  # the protocol judges the final loss, not the peak
    assert judge_losses([1.0, 0.95])[0] == "stalls"
    assert judge_losses([1.0, 0.89])[0] == "trains"
    verdict, ratio, reason = judge_losses([1.0, float("nan")])
    assert (verdict, ratio) == ("diverges", None) and "nan after 1 step" in reason


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) if x.sum() > 0 else self.b(x)  # cannot run on the meta device


def _graph(nodes: tuple[LayerNode, ...]) -> ModelGraph:
    return ModelGraph(
        target="t",
        name="t",
        source_path="t.py",
        trace=TraceInfo("hooks"),
        inputs=(),
        nodes=nodes,
        weights=(),
        tensors=(),
        params=frozen_mapping(),
        module_types=frozen_mapping(),
        module_locations=frozen_mapping(),
        parameter_count=0,
        training=True,
    )


def test_memory_estimate_falls_back_to_graph_then_forward() -> None:
    x = (torch.randn(4, 8),)
    assert probe(DataDependent(), x).memory.source == "forward"  # type: ignore[union-attr]
    graph = _graph((LayerNode("a", "call_module", "Linear", (), module="a", shape=(4, 8), dtype="float32"),))
    assert activations_from_graph(graph) == 4 * 8 * 4
    estimate = probe(DataDependent(), x, graph=graph).memory
    assert estimate is not None and estimate.source == "graph" and estimate.activations_bytes == 128
    with pytest.raises(GradlintError, match="the traced shapes"):
        probe(DataDependent(), x, graph=graph, memory_limit_bytes=estimate.weights_bytes + 64)
