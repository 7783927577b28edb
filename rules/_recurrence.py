"""Recurrences in a graph: ``nn.RNN``/``nn.LSTM``/``nn.GRU`` layers, and one Linear applied step after step in a loop.

The per-step gain is DESIGN §3's mean-field rate χ_rec = H·E[W_hh²]·E[φ'(√q z)²] at the step's
pre-activation second moment (Pascanu et al. 2013); over T steps the gradient scales as χ_rec^(T/2).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from gradlint.rulekit import LayerNode, ModelGraph, ParamStats, View, activation_function, expect

from ._gains import submodule_expr
from ._whatif import with_params

#: σ_max/ρ below this: a structured (near-normal) matrix. An iid matrix has σ_max ≈ 2ρ (DESIGN §3).
STRUCTURED_RATIO = 1.3
#: max |φ'| of the recurrent nonlinearity: Pascanu et al.'s γ.
MAX_SLOPE = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}


@dataclass(frozen=True)
class Recurrence:
    node: LayerNode
    """The nn.RNN call, or the first call of the looped Linear."""
    weight: ParamStats
    """W_hh (or the looped Linear's weight)."""
    label: str
    """``rnn.weight_hh_l0`` or ``h2h (applied 48 times)``."""
    hidden: int
    steps: int
    nonlinearity: str
    slope_sq: float
    """E[φ'²] at the predicted pre-activation second moment."""
    pre_q: float

    @property
    def chi(self) -> float:
        return self.hidden * self.weight.mean_sq * self.slope_sq

    @property
    def log10_over_steps(self) -> float:
        """log10 of the gradient-norm factor over all steps, χ_rec^(T/2)."""
        return (self.steps / 2) * math.log10(self.chi) if self.chi > 0 else -math.inf

    @property
    def structured(self) -> bool:
        """W is close to a normal matrix (a scaled identity or orthogonal: σ_max ≈ ρ), where the iid mean field
        does not hold; an iid matrix has σ_max ≈ 2ρ (DESIGN §3)."""
        norm, radius = self.weight.spectral_norm, self.weight.spectral_radius
        return norm is not None and radius is not None and radius > 0 and norm < STRUCTURED_RATIO * radius

    @property
    def log10_bound_over_steps(self) -> float:
        """log10 of Pascanu et al.'s upper bound (σ_max·γ)^T on the gradient-norm factor over all steps."""
        norm = self.weight.spectral_norm
        if norm is None or norm <= 0:
            return math.inf
        return self.steps * math.log10(norm * MAX_SLOPE.get(self.nonlinearity, 1.0))

    @property
    def bound(self) -> float:
        """Pascanu et al.'s threshold 1/γ for σ_max(W_hh)."""
        return 1.0 / MAX_SLOPE.get(self.nonlinearity, 1.0)


def rnn_recurrences(view: View) -> list[Recurrence]:
    """Every layer and direction of every vanilla ``nn.RNN`` (tanh or ReLU)."""
    found = []
    for node in view.graph.nodes:
        if node.op != "call_module" or node.role != "recurrent" or node.module_type != "RNN" or not node.inputs:
            continue
        attrs = node.attrs
        hidden = int(attrs.get("hidden_size", 0) or 0)
        source = view.input_node(node)
        steps = sequence_steps(view, node)
        if not hidden or source is None or steps is None:
            continue
        nonlinearity = str(attrs.get("nonlinearity", "tanh"))
        fn = activation_function(nonlinearity, {})
        q_x = (view.forward_rms(source.name) or 1.0) ** 2
        q_h = (view.forward_rms(node.name) or 0.0) ** 2
        for layer in range(int(attrs.get("num_layers", 1) or 1)):
            for suffix in ("", "_reverse") if attrs.get("bidirectional") else ("",):
                w_hh = view.param(node.module, f"weight_hh_l{layer}{suffix}")
                w_ih = view.param(node.module, f"weight_ih_l{layer}{suffix}")
                if w_hh is None or w_ih is None or fn is None:
                    continue
                size_in = w_ih.shape[1]
                q_in = q_x if layer == 0 else q_h
                bias = sum(
                    b.mean_sq
                    for b in (view.param(node.module, f"bias_{k}_l{layer}{suffix}") for k in ("ih", "hh"))
                    if b is not None
                )
                pre_q = size_in * w_ih.mean_sq * q_in + hidden * w_hh.mean_sq * q_h + bias
                _, _, slope_sq = expect(fn, 0.0, pre_q)
                found.append(Recurrence(node, w_hh, w_hh.name, hidden, steps, nonlinearity, slope_sq, pre_q))
    return found


#: Loops shorter than this are unrolled blocks, not a recurrence worth a per-step rate.
MIN_LOOP_STEPS = 8


def loop_recurrences(view: View) -> list[Recurrence]:
    """A Linear whose output, through an activation, feeds its own next call (a hand-written RNN cell)."""
    found = []
    calls: dict[str, list[LayerNode]] = {}
    for node in view.graph.nodes:
        if node.op == "call_module" and node.role == "linear" and node.module is not None:
            calls.setdefault(node.module, []).append(node)
    for module, nodes in calls.items():
        if len(nodes) < MIN_LOOP_STEPS or not _feeds(view, nodes[0], nodes[1]):
            continue
        activation = _activation_between(view, nodes[-2], nodes[-1])
        weight = view.param(module, "weight")
        if activation is None or weight is None or activation.activation is None:
            continue
        fn = activation_function(activation.activation, activation.attrs)
        pre = view.forward_rms(activation.inputs[0]) if activation.inputs else None
        if fn is None or pre is None:
            continue
        _, _, slope_sq = expect(fn, 0.0, pre * pre)
        out = int(nodes[0].attrs.get("out_features", weight.shape[0]))
        found.append(
            Recurrence(
                nodes[0],
                weight,
                f"{module} (applied {len(nodes)} times)",
                out,
                len(nodes),
                activation.activation,
                slope_sq,
                pre * pre,
            )
        )
    return found


def _feeds(view: View, earlier: LayerNode, later: LayerNode, limit: int = 12) -> bool:
    """``earlier``'s output is among ``later``'s ancestors within ``limit`` nodes."""
    pending, seen = deque([(later.name, 0)]), set()
    while pending:
        name, depth = pending.popleft()
        if name == earlier.name:
            return True
        if name in seen or depth > limit:
            continue
        seen.add(name)
        node = view.by_name.get(name)
        if node is not None:
            pending.extend((i, depth + 1) for i in node.inputs)
    return False


def _activation_between(view: View, earlier: LayerNode, later: LayerNode) -> LayerNode | None:
    pending, seen = deque([(earlier.name, 0)]), set()
    while pending:
        name, depth = pending.popleft()
        if name in seen or depth > 6:
            continue
        seen.add(name)
        for user in view.consumers.get(name, []):
            if user.role == "activation" and _feeds(view, user, later):
                return user
            pending.append((user.name, depth + 1))
    return None


def sequence_steps(view: View, node: LayerNode) -> int | None:
    """T of an ``nn.RNN``/``LSTM``/``GRU`` call: the time axis of its input (dim 1 with ``batch_first``)."""
    source = view.input_node(node)
    if source is None or not source.shape:
        return None
    steps = source.shape[1] if node.attrs.get("batch_first") and len(source.shape) == 3 else source.shape[0]
    return max(int(steps), 1)


def gate_bias_fixed(graph: ModelGraph, node: LayerNode, gate: int, gates: int, value: float) -> ModelGraph:
    """``graph`` with block ``gate`` of every ``bias_ih`` of ``node``'s module filled with ``value`` (``bias_hh`` left
    as it is, as :func:`gate_bias_snippet` does)."""
    blocks = {}
    for name, stats in graph.params.items():
        if stats.module == node.module and name.rpartition(".")[2].startswith("bias_ih") and len(stats.blocks) == gates:
            new = list(stats.blocks)
            new[gate] = (value, value * value)
            blocks[name] = tuple(new)
    return with_params(graph, {}, blocks)


def gate_bias_snippet(module: str, gate: int, order: str, value: float) -> str:
    """Code that fills rows ``gate·H:(gate+1)·H`` of every ``bias_ih`` of ``model.<module>`` with ``value``."""
    layer = submodule_expr(module)
    rows = "H:2 * H" if gate == 1 else f"{gate} * H:{gate + 1} * H"
    return (
        f"H = {layer}.hidden_size\n"
        f"for name, bias in {layer}.named_parameters():\n"
        '    if name.startswith("bias_ih"):\n'
        "        with torch.no_grad():\n"
        f"            bias[{rows}].fill_({value:.1f})  # gate order {order}"
    )
