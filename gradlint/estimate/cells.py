"""``nn.RNNCell``, ``nn.GRUCell`` and ``nn.LSTMCell`` called once per step in a Python loop.

Each call is one node of the graph and one step of the mean-field recurrence of ``recurrent.py``
(the same per-step forward and backward): the hidden state's statistics come from the previous call's
output, so the loop unrolls through the graph itself. An LSTM cell also carries its cell state ``c``,
which the graph does not tell apart from ``h`` (both come out of one call): it travels beside the output
in ``Signal.state``, forward, and the next step hands its gradient back to the previous step's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradlint.estimate.context import Backward, OpContext, numel
from gradlint.estimate.layers import Op
from gradlint.estimate.recurrent import _gates, step_backward, step_forward
from gradlint.estimate.signal import Signal, clamp

_MODES = {"RNNCell": ("RNN", 1), "GRUCell": ("GRU", 3), "LSTMCell": ("LSTM", 4)}


@dataclass
class CellState:
    """An LSTM cell state's statistics after one step, and the gradient the next steps send back to it."""

    q: float
    mean: float
    carried: float = 0.0
    """Σ over later steps of their cell-state gradient variance times their forget gate's E[f²]."""


class CellOp(Op):
    def _setup(self, ctx: OpContext) -> tuple[str, list, int, int]:
        mode, count = _MODES[ctx.node.module_type or "RNNCell"]
        params = [ctx.param(k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        hidden = int(ctx.attrs.get("hidden_size", 1))
        size = int(ctx.attrs.get("input_size", (ctx.input_shape(0) or (1,))[-1]))
        return mode, _gates(*params, count), size, hidden

    def forward(self, ctx: OpContext) -> Signal:
        mode, gates, size, hidden = self._setup(ctx)
        x = ctx.inputs[0] or Signal(q=0.0)
        previous = ctx.inputs[1] if len(ctx.inputs) > 1 else None
        q_h = previous.q if previous is not None and not previous.constant else 0.0
        prior = next((s.state for s in ctx.inputs[1:] if s is not None and isinstance(s.state, CellState)), None)
        explicit = ctx.inputs[2] if len(ctx.inputs) > 2 and prior is None else None
        if prior is not None:
            q_c, m_c = prior.q, prior.mean
        elif explicit is not None and not explicit.constant:
            q_c, m_c = explicit.q, explicit.mean
        else:
            q_c, m_c = 0.0, 0.0
        nonlinearity = str(ctx.attrs.get("nonlinearity", "tanh"))
        q_out, q_c, m_c, cache = step_forward(mode, nonlinearity, gates, size, hidden, x.q, q_h, q_c, m_c)
        state = CellState(q_c, m_c) if mode == "LSTM" else None
        ctx.cache.update(step=cache, state=state, prior=prior)
        return clamp(Signal(q=q_out, state=state))

    def backward(self, ctx: OpContext, g: float) -> Backward:
        mode, gates, _, hidden = self._setup(ctx)
        step, state, prior = ctx.cache["step"], ctx.cache["state"], ctx.cache["prior"]
        carried = state.carried if state is not None else 0.0
        g_x, g_h, g_c, (part_ih, part_hh) = step_backward(mode, gates, hidden, step, g, carried, 1.0)
        result = Backward(inputs={0: g_x, 1: g_h}, shared_inputs={0: 0.0, 1: 0.0})
        if mode == "LSTM":
            to_previous = g_c * step["s_f"]
            if prior is not None:
                prior.carried += to_previous
            elif len(ctx.inputs) > 2:
                result.inputs[2] = to_previous
        # one step sums δ·x over the batch: E[(∂L/∂W)²] = batch x the per-sample part
        batch = numel(ctx.input_shape(0)) / max(int(ctx.attrs.get("input_size", 1)), 1)
        for local, part in (("weight_ih", part_ih), ("weight_hh", part_hh)):
            stats = ctx.param(local)
            if stats is not None:
                result.weights[stats.name] = part * batch
        return result
