"""Per-position scale for tokens prepended to a sequence (class and distillation tokens).

``torch.cat((cls_token.expand(b, -1, -1), x), dim=1)`` puts k learned positions in front of the
patches. Their scale is their own (timm starts a class token at std 1e-6): a LayerNorm of such a
position divides by its small spread and amplifies its gradient by orders, and a head reading
``x[:, 0]`` sends the whole gradient to those k positions alone. One moment per tensor misses both.

So beside each tensor's ``Signal`` this keeps the token positions' ``Signal`` through the ops that act
on every position alone (linear layers, norms over features, activations, dropout, residual adds,
reshapes); an op that mixes positions (attention, pooling, a convolution) ends it: a token's
attention output is an attention-weighted average of all values, which is the tensor's own signal.
Backward, ``tokens`` is the part of a node's gradient variance that sits at the token positions
(averaged over the whole tensor, like the gradient itself): a read of the tokens puts everything
there, a position-wise op carries it with the tokens' own forward statistics, and a mixing op
spreads its gradient over all positions evenly, k/T of it to the tokens, as attention near
uniform does at initialisation (a first model: trained attention can concentrate on the tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from gradlint.estimate.context import Backward, OpContext, parameter_behind
from gradlint.estimate.functions import AddOp, ElementwiseOp, MulOp, PowOp
from gradlint.estimate.layers import (
    ActivationOp,
    DropoutOp,
    FeatureNormOp,
    GluOp,
    IdentityOp,
    LinearOp,
    Op,
    OpaqueOp,
)
from gradlint.estimate.registry import op_for
from gradlint.estimate.signal import Signal
from gradlint.types import LayerNode, ModelGraph

_POSITION_WISE = (LinearOp, FeatureNormOp, ActivationOp, DropoutOp, AddOp, MulOp, ElementwiseOp, PowOp, GluOp)
_READS = frozenset({"getitem", "__getitem__", "select", "slice", "narrow"})


@dataclass
class _Tokens:
    """The token positions of one tensor: their statistics, and the rule that computed them."""

    signal: Signal
    fraction: float
    """k / T: the share of the tensor's positions that are tokens."""
    rule: Op | None = None
    ctx: OpContext | None = None


@dataclass
class PositionTrack:
    """The token positions' forward statistics and backward gradient share, for one graph."""

    graph: ModelGraph
    tracked: dict[str, _Tokens] = field(default_factory=dict)
    reads: set[str] = field(default_factory=set)
    skips: set[str] = field(default_factory=set)
    """``x[:, k:]``: the sequence without its tokens."""
    prepends: dict[str, tuple[int, int]] = field(default_factory=dict)
    """cat node -> (index of the token input, index of the sequence input)."""

    def forward(
        self,
        node: LayerNode,
        signals: dict[str, Signal | None],
        contexts: Mapping[str, OpContext],
        rules: dict[str, Op],
    ) -> None:
        """Extend the track over ``node``; a read of the tokens gets their signal (and a pass-through rule)."""
        ctx, rule = contexts.get(node.name), rules.get(node.name)
        if ctx is None or rule is None:
            return
        prepended = self._prepended(node)
        if prepended is not None:
            token_index, sequence_index = prepended
            token_signal = ctx.inputs[token_index]
            if token_signal is not None and not token_signal.constant and node.shape is not None:
                self.prepends[node.name] = prepended
                k = (ctx.input_shape(token_index) or (1, 1))[1]
                self.tracked[node.name] = _Tokens(token_signal, k / node.shape[1])
            return
        sources = [self.tracked.get(i) for i in node.inputs]
        if not any(sources):
            return
        inputs = [t.signal if t is not None else s for t, s in zip(sources, ctx.inputs)]
        token_ctx = OpContext(node, inputs, ctx.input_nodes, ctx.graph, values=ctx.values)
        if self._reads_tokens(node, sources):
            self.reads.add(node.name)
            rules[node.name] = IdentityOp()
            signals[node.name] = IdentityOp().forward(token_ctx)
            return
        if self._slices_positions(node):
            source_shape = self.graph.node(node.inputs[0]).shape or (1, 1)
            tokens = round(sources[0].fraction * source_shape[1]) if sources[0] is not None else 0
            if node.shape is not None and len(node.shape) == 3 and node.shape[1] == source_shape[1] - tokens:
                self.skips.add(node.name)
            return  # some positions of the sequence: the tensor's own signal
        if isinstance(rule, OpaqueOp) or not isinstance(rule, (*_POSITION_WISE, IdentityOp)):
            return  # mixes positions (attention, pooling) or has no rule: the tokens are the tensor's own again
        token_rule = op_for(node, self.graph)
        fraction = next(t.fraction for t in sources if t is not None)
        self.tracked[node.name] = _Tokens(token_rule.forward(token_ctx), fraction, token_rule, token_ctx)

    def backward(
        self, node: LayerNode, rule: Op, ctx: OpContext, g: float, tokens: float
    ) -> tuple[Backward, dict[int, float]]:
        """The node's backward, with the token positions' share ``tokens`` of ``g`` carried by their own
        statistics; returns it with each input's token share."""
        tokens = min(tokens, g)
        if node.name in self.reads:
            # the head reads the tokens: all of the gradient is theirs, and none is common to all T positions
            result = rule.backward(ctx, g)
            return replace(result, shared_inputs=dict.fromkeys(result.inputs, 0.0)), dict(result.inputs)
        if node.name in self.prepends:
            token_index, sequence_index = self.prepends[node.name]
            fraction = self.tracked[node.name].fraction
            return Backward(
                inputs={token_index: tokens / fraction, sequence_index: (g - tokens) / (1.0 - fraction)}
            ), {}
        if node.name in self.skips:
            return rule.backward(ctx, g), {}  # read the patches alone: no gradient reaches the tokens here
        own = self.tracked.get(node.name)
        if own is None or own.rule is None or own.ctx is None or tokens <= 0.0:
            result = rule.backward(ctx, g)
            return result, self._spread(node, result)
        rest = g - tokens
        g_pos = ctx.g_pos
        ctx.cache["g_pos"] = g_pos * rest / g
        rest_result = rule.backward(ctx, rest) if rest > 0.0 else Backward()
        # The tokens' weight gradient pairs k positions with their own statistics: no cross-position term (k is 1
        # or 2). Their part of the position-shared gradient still passes on, split like the gradient.
        own.ctx.cache.update(coverage=ctx.cache.get("coverage", 1.0), g_pos=0.0, centered=ctx.centered)
        token_result = own.rule.backward(own.ctx, tokens)
        merged = Backward(centered=rest_result.centered)
        for source in (rest_result, token_result):
            for name, value in source.weights.items():
                merged.weights[name] = merged.weights.get(name, 0.0) + value
        share: dict[int, float] = {}
        for index in set(rest_result.inputs) | set(token_result.inputs):
            r, t = rest_result.inputs.get(index, 0.0), token_result.inputs.get(index, 0.0)
            merged.inputs[index] = r + t
            default_r = g_pos * r / g
            default_t = g_pos * t / g
            merged.shared_inputs[index] = rest_result.shared_inputs.get(index, default_r) + default_t
            source = self.tracked.get(node.inputs[index]) if index < len(node.inputs) else None
            if source is not None:
                share[index] = t + r * source.fraction
        ctx.cache["g_pos"] = g_pos
        return merged, share

    def _spread(self, node: LayerNode, result: Backward) -> dict[int, float]:
        """An op that mixes positions spreads its gradient over them evenly: k/T of it reaches the tokens."""
        share = {}
        for index, value in result.inputs.items():
            source = self.tracked.get(node.inputs[index]) if index < len(node.inputs) else None
            if source is not None:
                share[index] = value * source.fraction
        return share

    def _prepended(self, node: LayerNode) -> tuple[int, int] | None:
        """(token input, sequence input) of ``cat((param.expand(b, -1, -1), x), dim=1)`` on (B, T, D)."""
        if node.op != "call_function" or node.target not in ("cat", "concat") or len(node.inputs) != 2:
            return None
        if node.attrs.get("dim") not in (1, -2) or node.shape is None or len(node.shape) != 3:
            return None
        if parameter_behind(self.graph, node.inputs[0]) is None or parameter_behind(self.graph, node.inputs[1]):
            return None
        return 0, 1

    def _slices_positions(self, node: LayerNode) -> bool:
        source = self.graph.node(node.inputs[0]).shape if node.inputs else None
        return node.target in _READS and source is not None and len(source) == 3 and node.shape != source

    def _reads_tokens(self, node: LayerNode, sources: list[_Tokens | None]) -> bool:
        """``x[:, 0]``, ``x[:, :k]`` of a tracked (B, T, D) sequence: positions among the first k alone."""
        if node.target not in _READS or node.shape is None or sources[0] is None:
            return False
        source = self.graph.node(node.inputs[0]).shape
        if source is None or len(source) != 3:
            return False
        batch, length, width = source
        k = round(sources[0].fraction * length)
        if len(node.shape) == 2:
            return tuple(node.shape) == (batch, width)
        return len(node.shape) == 3 and node.shape[0] == batch and node.shape[2] == width and node.shape[1] <= k
