"""The fix GL101/GL102 offer: one that fits the layers of the model, verified by re-estimating with it applied.

A fix is built from what the model is made of, in this order, and the first whose re-estimate no longer
fires the rule is offered (none when none does):

- recurrent layers (``nn.RNN/LSTM/GRU``): every ``weight_hh`` orthogonal, an LSTM's forget-gate bias at 1,
  and gradient clipping as a safety net (clipping does not change the estimate: it is advice, not the fix);
- Linear/Conv layers at the critical scale for the activation each feeds: He for ReLU, Xavier with
  ``calculate_gain('tanh')`` for tanh (``'sigmoid'`` for sigmoid), ``std = gain/√fan_in`` with the
  mean-field gain for SiLU, GELU and other smooth activations, LeCun for layers that feed none;
- for a model whose own init is deliberate (its Linear/Conv weights were initialised by explicit calls,
  as GPT-2/Llama's depth-scaled ``normal_(std=0.02)`` is) and that has residual branches, the init is kept:
  each branch's output layer is scaled by 1/√(2·blocks) instead, as GPT-2 scales its residual projections.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gradlint.rulekit import (
    WEIGHT_ROLES,
    Estimates,
    Fix,
    LayerNode,
    ModelGraph,
    View,
    critical_gain_sq,
    estimate,
    fan_in,
)

from ._gains import submodule_expr
from ._recurrence import gate_bias_fixed, gate_bias_snippet
from ._whatif import Moments, with_params

RECURRENT_TYPES = frozenset({"RNN", "LSTM", "GRU"})
#: nn.LSTM's gates in its weight and bias rows: input, forget, cell, output.
LSTM_FORGET_GATE, LSTM_GATES = 1, 4
#: torch.nn.init.calculate_gain for the activations Xavier init is used with.
XAVIER_GAINS = {"tanh": 5.0 / 3.0, "sigmoid": 1.0}
RELU_LIKE = frozenset({"relu", "relu6"})
CLIP = "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # after loss.backward()"


@dataclass(frozen=True)
class GradientFix:
    fix: Fix | None
    """The fix to offer: None when no candidate's re-estimate removed the finding."""
    after: Estimates
    """The re-estimate of the offered fix, else of the last candidate tried (what ``after_fix`` reports)."""
    tried: tuple[str, ...]
    """Every candidate re-estimated, in order: ``recurrent``, ``init``, ``residual-branch``."""


@dataclass(frozen=True)
class _Candidate:
    name: str
    graph: ModelGraph
    fix: Fix


def gradient_fix(graph: ModelGraph, still_fires: Callable[[Estimates], bool], *, exploding: bool) -> GradientFix:
    """The first candidate fix of the module docstring whose re-estimate ``still_fires`` says is clean."""
    tried: list[str] = []
    after: Estimates | None = None
    for candidate in _candidates(graph, exploding=exploding):
        tried.append(candidate.name)
        after = estimate(candidate.graph)
        if not still_fires(after):
            return GradientFix(candidate.fix, after, tuple(tried))
    return GradientFix(None, after if after is not None else estimate(graph), tuple(tried))


def deliberate_init(graph: ModelGraph) -> bool:
    """Most Linear/Conv weights were initialised by explicit calls (not PyTorch's default) and the model has
    residual adds: a designed init of a residual network, which a fix must not overwrite."""
    layers = {n.module for n in graph.nodes if n.op == "call_module" and n.role in ("linear", "conv")}
    weights = [w for w in graph.weights if w.module in layers]
    own = [w for w in weights if w.init.source == "recorded" and w.init.scheme != "pytorch-default"]
    residual = any(n.role == "residual-add" for n in graph.nodes)
    return residual and bool(weights) and 2 * len(own) >= len(weights)


def _candidates(graph: ModelGraph, *, exploding: bool) -> list[_Candidate]:
    recurrent = [
        n for n in graph.nodes if n.op == "call_module" and n.module_type in RECURRENT_TYPES and n.module is not None
    ]
    keep_init = deliberate_init(graph)
    found = []
    if recurrent:
        found.append(_recurrent(graph, recurrent))
    if not keep_init:
        init = _layer_init(graph if not found else found[-1].graph)
        if init is not None:
            if found:
                init = _Candidate(
                    "recurrent+init",
                    init.graph,
                    Fix(
                        f"{found[-1].fix.description}; {init.fix.description}", f"{found[-1].fix.code}\n{init.fix.code}"
                    ),
                )
            found.append(init)
    elif exploding:
        branch = _residual_branches(graph)
        if branch is not None:
            found.append(branch)
    return found


def _recurrent(graph: ModelGraph, nodes: list[LayerNode]) -> _Candidate:
    moments: dict[str, tuple[float, float]] = {}
    code: list[str] = []
    lstm_modules = []
    for node in nodes:
        for stats in graph.params.values():
            if stats.module == node.module and stats.name.rpartition(".")[2].startswith("weight_hh"):
                rows, cols = stats.shape[0], stats.shape[1]
                moments[stats.name] = (0.0, 1.0 / max(rows, cols))  # orthonormal rows or columns: σ = 1
        layer = submodule_expr(node.module or "")
        code += [
            f"for name, weight in {layer}.named_parameters():",
            '    if name.startswith("weight_hh"):',
            "        nn.init.orthogonal_(weight)",
        ]
        if node.module_type == "LSTM":
            lstm_modules.append(node)
    fixed = with_params(graph, moments)
    for node in lstm_modules:
        fixed = gate_bias_fixed(fixed, node, LSTM_FORGET_GATE, LSTM_GATES, 1.0)
        code.append(gate_bias_snippet(node.module or "", LSTM_FORGET_GATE, "i, f, g, o", 1.0))
    code.append(CLIP)
    kinds = sorted({n.module_type or "RNN" for n in nodes})
    forget = ", the LSTM forget-gate bias at 1" if lstm_modules else ""
    text = (
        f"initialise the recurrent weights of the {'/'.join(kinds)} orthogonal (every singular value 1){forget}, "
        "and clip the gradient norm while training"
    )
    return _Candidate("recurrent", fixed, Fix(text, "\n".join(code)))


@dataclass(frozen=True)
class _Init:
    text: str
    code: str
    gain_sq: Callable[[int, int], float]
    """fan_in·E[W²] the call gives a layer of (fan_in, fan_out)."""


def _init_for(activation: str | None) -> _Init:
    if activation in RELU_LIKE:
        return _Init("He for ReLU", 'nn.init.kaiming_normal_(module.weight, nonlinearity="relu")', lambda i, o: 2.0)
    if activation in XAVIER_GAINS:
        gain = XAVIER_GAINS[activation]
        return _Init(
            f"Xavier with the {activation} gain",
            f'nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("{activation}"))',
            lambda i, o: gain * gain * 2.0 * i / (i + o),
        )
    if activation is None:
        return _Init("LeCun", 'nn.init.kaiming_normal_(module.weight, nonlinearity="linear")', lambda i, o: 1.0)
    gain_sq = critical_gain_sq(activation)
    return _Init(
        f"std {math.sqrt(gain_sq):.3g}/√fan_in, the critical scale for {activation}",
        f"nn.init.normal_(module.weight, std={math.sqrt(gain_sq):.3g} / math.sqrt(module.weight[0].numel()))",
        lambda i, o: gain_sq,
    )


def _layer_init(graph: ModelGraph) -> _Candidate | None:
    """Every Linear/Conv at the critical scale for the activation it feeds, biases zeroed."""
    groups: dict[str | None, list[LayerNode]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and node.role in ("linear", "conv") and node.module is not None:
            groups.setdefault(node.feeds_activation, []).append(node)
    if not groups:
        return None
    fed = {a for a in groups if a is not None}
    if len(fed) <= 1:
        # one activation: one init for every layer, as `model.apply` gives it (the output layer included)
        activation = next(iter(fed), None)
        groups = {activation: [n for nodes in groups.values() for n in nodes]}
    else:
        groups.pop(None, None)  # layers that feed no activation (output heads) keep their init
    single = len(groups) == 1
    moments: dict[str, tuple[float, float]] = {}
    code: list[str] = []
    texts = []
    for activation, nodes in groups.items():
        init = _init_for(activation)
        texts.append(f"{init.text}" + ("" if single else f" ({len(nodes)} layers)"))
        for node in nodes:
            weight = graph.params.get(f"{node.module}.weight")
            if weight is None:
                continue
            fans_in = max(fan_in(node, weight), 1)
            fans_out = max(weight.shape[0] * math.prod(weight.shape[2:]), 1)
            moments[weight.name] = (0.0, init.gain_sq(fans_in, fans_out) / fans_in)
            bias = graph.params.get(f"{node.module}.bias")
            if bias is not None:
                moments[bias.name] = (0.0, 0.0)
        code += _init_code(init, [n.module or "" for n in nodes], single)
    if single:
        code += ["", "model.apply(init_weights)"]
    uses_math = any("math." in line for line in code)
    text = "initialise each Linear/Conv at the critical scale for the activation it feeds: " + "; ".join(texts)
    return _Candidate(
        "init",
        with_params(graph, moments),
        Fix(text, ("import math\n\n" if uses_math else "") + "\n".join(code)),
    )


def _init_code(init: _Init, modules: list[str], single: bool) -> list[str]:
    if single:
        return [
            "def init_weights(module):",
            "    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):",
            f"        {init.code}",
            "        if module.bias is not None:",
            "            nn.init.zeros_(module.bias)",
        ]
    names = ", ".join(repr(m) for m in modules)
    return [
        f"for name in ({names}{',' if len(modules) == 1 else ''}):",
        "    module = model.get_submodule(name)",
        f"    {init.code}",
        "    if module.bias is not None:",
        "        nn.init.zeros_(module.bias)",
    ]


def _residual_branches(graph: ModelGraph) -> _Candidate | None:
    """Keep the model's init; scale the output layer of every residual branch by 1/√(2·blocks) (GPT-2)."""
    view = View(graph, None)
    outputs: list[LayerNode] = []
    for stream in view.streams():
        for index in range(len(stream.adds)):
            node = view.by_name.get(stream.branch(index))
            found = next(
                (n for n in graph.upstream(node, inclusive=True) if n.role in WEIGHT_ROLES) if node is not None else (),
                None,
            )
            if found is not None and found.module is not None and found not in outputs:
                outputs.append(found)
    if not outputs:
        return None
    factor = 1.0 / math.sqrt(2 * len(outputs))
    moments: Moments = {
        f"{n.module}.weight": (stats.mean * factor, stats.mean_sq * factor * factor)
        for n in outputs
        if (stats := graph.params.get(f"{n.module}.weight")) is not None
    }
    names = ", ".join(repr(n.module) for n in outputs)
    code = (
        "import math\n\n"
        f"with torch.no_grad():\n"
        f"    for name in ({names}{',' if len(outputs) == 1 else ''}):\n"
        f"        model.get_submodule(name).weight.mul_(1 / math.sqrt({2 * len(outputs)}))"
    )
    text = (
        f"keep the model's own init and scale the output layer of each of the {len(outputs)} residual branches by "
        f"1/√(2·{len(outputs)}) = {factor:.3g} (GPT-2's residual scaling), or put a norm at the start of each branch"
    )
    return _Candidate("residual-branch", with_params(graph, moments), Fix(text, code))
