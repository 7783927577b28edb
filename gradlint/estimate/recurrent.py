"""``nn.RNN``/``nn.LSTM``/``nn.GRU`` unrolled over the example's sequence length, mean-field per step.

Forward: each step's pre-activation second moment from the input, the previous hidden state
and the gate biases at their real values (an LSTM's forget gate at PyTorch's default bias
passes ≈ 0.5 per step). Backward: the gradient reaching each step from the output (every step,
or only the last when the model reads ``out[:, -1]`` / ``h_n``) plus the one flowing back
through ``W_hh`` — the per-step rate χ = H·E[W_hh²]·E[φ'²] of Pascanu et al. (2013).
A weight's gradient sums over the batch and over every step it is applied at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gradlint.estimate.context import Backward, OpContext, mean_of, mean_sq
from gradlint.estimate.gaussian import activation_function, expect
from gradlint.estimate.layers import Op
from gradlint.estimate.signal import Signal, clamp
from gradlint.types import ParamStats

_SIGMOID = activation_function("sigmoid", {})
_TANH = activation_function("tanh", {})


@dataclass
class _Gate:
    """One gate block of a layer: its weights' and biases' statistics."""

    w_ih: float
    w_hh: float
    bias_mean: float
    bias_sq: float


def _gates(
    ih: ParamStats | None, hh: ParamStats | None, b_ih: ParamStats | None, b_hh: ParamStats | None, count: int
) -> list[_Gate]:
    def blocks(stats: ParamStats | None) -> list[tuple[float, float]]:
        if stats is None:
            return [(0.0, 0.0)] * count
        if stats.blocks and len(stats.blocks) == count:
            return list(stats.blocks)
        return [(mean_of(stats), mean_sq(stats))] * count

    gates = []
    for (_, w_ih), (_, w_hh), (m1, s1), (m2, s2) in zip(blocks(ih), blocks(hh), blocks(b_ih), blocks(b_hh)):
        gates.append(_Gate(w_ih, w_hh, m1 + m2, s1 + s2 + 2 * m1 * m2))
    return gates


def _pre(gate: _Gate, input_size: int, hidden: int, q_x: float, q_h: float) -> tuple[float, float]:
    """(mean, variance) of a gate's pre-activation: biases set the mean, weights and bias spread the variance."""
    variance = input_size * gate.w_ih * q_x + hidden * gate.w_hh * q_h + max(gate.bias_sq - gate.bias_mean**2, 0.0)
    return gate.bias_mean, variance


@dataclass
class _LayerRun:
    q_h: list[float]
    """q of the hidden state after each step (index 0 = the initial state)."""
    cache: list[dict]


class RecurrentOp(Op):
    def _config(self, ctx: OpContext) -> dict:
        attrs = ctx.attrs
        mode = ctx.node.module_type or "RNN"
        batch_first = bool(attrs.get("batch_first", False))
        shape = ctx.input_shape(0) or (1, 1, int(attrs.get("input_size", 1)))
        if len(shape) == 3:
            steps = shape[1] if batch_first else shape[0]
            batch = shape[0] if batch_first else shape[1]
        else:  # unbatched (T, I)
            steps, batch = shape[0], 1
        if attrs.get("proj_size", 0):
            self.uncertain = "LSTM with proj_size: projection ignored"
        return {
            "mode": "LSTM" if "LSTM" in mode else "GRU" if "GRU" in mode else "RNN",
            "nonlinearity": attrs.get("nonlinearity", "tanh"),
            "layers": int(attrs.get("num_layers", 1)),
            "directions": 2 if attrs.get("bidirectional", False) else 1,
            "hidden": int(attrs.get("hidden_size", 1)),
            "input": int(attrs.get("input_size", shape[-1])),
            "steps": max(int(steps), 1),
            "batch": batch,
        }

    def _params(self, ctx: OpContext, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(ctx.param(f"{kind}{suffix}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, ctx: OpContext) -> Signal:
        cfg = self._config(ctx)
        x = ctx.inputs[0] or Signal(q=0.0)
        q_in = [x.q] * cfg["steps"]
        runs: dict[tuple[int, int], _LayerRun] = {}
        for layer in range(cfg["layers"]):
            size = cfg["input"] if layer == 0 else cfg["hidden"] * cfg["directions"]
            outputs = []
            for direction in range(cfg["directions"]):
                order = q_in if direction == 0 else q_in[::-1]
                run = self._forward_layer(cfg, self._params(ctx, layer, direction), size, order)
                runs[(layer, direction)] = run
                outputs.append(run.q_h[1:] if direction == 0 else run.q_h[1:][::-1])
            q_in = [sum(o[t] for o in outputs) / len(outputs) for t in range(cfg["steps"])]
        ctx.cache.update(cfg=cfg, runs=runs, q_x=x.q)
        q_out = sum(q_in) / len(q_in)
        return clamp(Signal(q=q_out, mean=0.0, shared=0.0))

    def _forward_layer(self, cfg: dict, params: tuple, size: int, q_x: Sequence[float]) -> _LayerRun:
        mode, hidden = cfg["mode"], cfg["hidden"]
        count = {"LSTM": 4, "GRU": 3, "RNN": 1}[mode]
        gates = _gates(*params, count)
        q_h, caches = [0.0], []
        q_c, m_c = 0.0, 0.0
        for qx in q_x:
            q_next, q_c, m_c, cache = step_forward(
                mode, cfg["nonlinearity"], gates, size, hidden, qx, q_h[-1], q_c, m_c
            )
            caches.append(cache)
            q_h.append(q_next)
        return _LayerRun(q_h, caches)

    def backward(self, ctx: OpContext, g: float) -> Backward:
        cfg, runs = ctx.cache["cfg"], ctx.cache["runs"]
        steps = cfg["steps"]
        coverage = ctx.cache.get("coverage", 1.0)
        # Gradient reaching each output step: every step, or (out[:, -1], h_n) the last one only.
        g_out = [0.0] * (steps - 1) + [g * steps] if coverage * steps < 1.5 else [g] * steps
        weights: dict[str, float] = {}
        g_in = g_out
        for layer in reversed(range(cfg["layers"])):
            size = cfg["input"] if layer == 0 else cfg["hidden"] * cfg["directions"]
            totals = [0.0] * steps
            for direction in range(cfg["directions"]):
                params = self._params(ctx, layer, direction)
                external = g_in if direction == 0 else g_in[::-1]
                g_x, grads = self._backward_layer(cfg, params, size, runs[(layer, direction)], external)
                if direction:
                    g_x = g_x[::-1]
                totals = [a + b for a, b in zip(totals, g_x)]
                for stats, value in zip(params[:2], grads):
                    if stats is not None:
                        weights[stats.name] = value * cfg["batch"]
            # a layer's input is the concatenation of the previous layer's directions: each unit gets one direction
            g_in = totals
        return Backward(inputs={0: sum(g_in) / steps}, weights=weights, shared_inputs={0: 0.0})

    def _backward_layer(
        self, cfg: dict, params: tuple, size: int, run: _LayerRun, external: Sequence[float]
    ) -> tuple[list[float], tuple[float, float]]:
        mode, hidden = cfg["mode"], cfg["hidden"]
        count = {"LSTM": 4, "GRU": 3, "RNN": 1}[mode]
        gates = _gates(*params, count)
        steps = len(external)
        g_x = [0.0] * steps
        grad_ih = grad_hh = 0.0
        from_next = 0.0  # gradient variance reaching h_t through the next step's W_hh (and z gate)
        g_c_next, f_next = 0.0, 0.0
        for t in reversed(range(steps)):
            c = run.cache[t]
            g_h = external[t] + from_next
            g_x[t], from_next, g_c_next, parts = step_backward(mode, gates, hidden, c, g_h, g_c_next, f_next)
            f_next = c.get("s_f", 0.0)
            grad_ih += parts[0]
            grad_hh += parts[1]
        return g_x, (grad_ih, grad_hh)


def step_forward(
    mode: str,
    nonlinearity: str,
    gates: Sequence[_Gate],
    size: int,
    hidden: int,
    qx: float,
    h_prev: float,
    q_c: float,
    m_c: float,
) -> tuple[float, float, float, dict]:
    """One step: (E[h²], E[c²], E[c], what the backward needs) from the input's and the previous state's."""
    if mode == "RNN":
        mean, var = _pre(gates[0], size, hidden, qx, h_prev)
        fn = activation_function(nonlinearity, {})
        _, second, slope = expect(fn, mean, var)
        cache = {"slope": slope, "qx": qx, "qh_prev": h_prev}
        return second, q_c, m_c, cache
    elif mode == "LSTM":
        stats = [expect(_TANH if k == 2 else _SIGMOID, *_pre(gates[k], size, hidden, qx, h_prev)) for k in range(4)]
        (m_i, s_i, d_i), (m_f, s_f, d_f), (m_g, s_g, d_g), (m_o, s_o, d_o) = stats
        q_c_prev, m_c_prev = q_c, m_c
        q_c = s_f * q_c_prev + s_i * s_g + 2 * m_f * m_i * m_c_prev * m_g
        m_c = m_f * m_c_prev + m_i * m_g
        m_tanh_c, s_tanh_c, d_tanh_c = expect(_TANH, m_c, max(q_c - m_c * m_c, 0.0))
        cache = {
            "qx": qx,
            "qh_prev": h_prev,
            "qc_prev": q_c_prev,
            "s_i": s_i,
            "s_f": s_f,
            "s_g": s_g,
            "s_o": s_o,
            "d_i": d_i,
            "d_f": d_f,
            "d_g": d_g,
            "d_o": d_o,
            "s_tanh_c": s_tanh_c,
            "d_tanh_c": d_tanh_c,
        }
        return s_o * s_tanh_c, q_c, m_c, cache
    else:  # GRU: r, z, n
        m_r, s_r, d_r = expect(_SIGMOID, *_pre(gates[0], size, hidden, qx, h_prev))
        m_z, s_z, d_z = expect(_SIGMOID, *_pre(gates[1], size, hidden, qx, h_prev))
        gate_n = gates[2]
        q_a = size * gate_n.w_ih * qx
        q_u = hidden * gate_n.w_hh * h_prev
        variance = q_a + s_r * q_u + max(gate_n.bias_sq - gate_n.bias_mean**2, 0.0)
        m_n, s_n, d_n = expect(_TANH, gate_n.bias_mean, variance)
        one_minus_z_sq = 1 - 2 * m_z + s_z
        cache = {
            "qx": qx,
            "qh_prev": h_prev,
            "s_r": s_r,
            "d_r": d_r,
            "s_z": s_z,
            "d_z": d_z,
            "s_n": s_n,
            "d_n": d_n,
            "q_u": q_u,
            "omz": one_minus_z_sq,
        }
        return one_minus_z_sq * s_n + s_z * h_prev, q_c, m_c, cache


def step_backward(
    mode: str, gates: Sequence[_Gate], hidden: int, c: dict, g_h: float, g_c_next: float, f_next: float
) -> tuple[float, float, float, tuple[float, float]]:
    """One step back: gradient variance at the step's input, at the previous hidden state, at the previous
    cell state (LSTM; 0 otherwise), and the step's parts of E[(∂L/∂W_ih)²] and E[(∂L/∂W_hh)²] per sample,
    from the gradient at its hidden output ``g_h`` and, for an LSTM, at its cell state after it."""
    g_c = 0.0
    if mode == "RNN":
        g_pre = g_h * c["slope"]
        part_ih = g_pre * c["qx"]
        part_hh = g_pre * c["qh_prev"]
        g_x = hidden * gates[0].w_ih * g_pre
        from_next = hidden * gates[0].w_hh * g_pre
    elif mode == "LSTM":
        g_c = g_h * c["s_o"] * c["d_tanh_c"] + g_c_next * f_next
        g_pre = [
            g_c * c["s_g"] * c["d_i"],
            g_c * c["qc_prev"] * c["d_f"],
            g_c * c["s_i"] * c["d_g"],
            g_h * c["s_tanh_c"] * c["d_o"],
        ]
        part_ih = sum(g_pre) / 4 * c["qx"]
        part_hh = sum(g_pre) / 4 * c["qh_prev"]
        g_x = hidden * sum(gate.w_ih * gp for gate, gp in zip(gates, g_pre))
        from_next = hidden * sum(gate.w_hh * gp for gate, gp in zip(gates, g_pre))
    else:  # GRU
        g_n = g_h * c["omz"]
        g_pre_n = g_n * c["d_n"]
        g_u = g_pre_n * c["s_r"]
        g_pre_r = g_pre_n * c["q_u"] * c["d_r"]
        g_pre_z = g_h * (c["qh_prev"] + c["s_n"]) * c["d_z"]
        part_ih = (g_pre_r + g_pre_z + g_pre_n) / 3 * c["qx"]
        part_hh = (g_pre_r + g_pre_z + g_u) / 3 * c["qh_prev"]
        g_x = hidden * (gates[0].w_ih * g_pre_r + gates[1].w_ih * g_pre_z + gates[2].w_ih * g_pre_n)
        from_next = g_h * c["s_z"] + hidden * (gates[0].w_hh * g_pre_r + gates[1].w_hh * g_pre_z + gates[2].w_hh * g_u)
    return g_x, from_next, g_c, (part_ih, part_hh)
