"""Functional ops in ``forward`` and what feeds them: the GL6xx numerically-unstable-op rules (DESIGN §3).

Names are the canonical ones the trace stage writes (``torch.log``, ``Tensor.log`` and ``aten.log``
all read ``log``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gradlint.rulekit import LayerNode, View

#: Ops that only move or view values: an eps added before them still protects the op after them.
VIEWS = frozenset(
    {
        "view",
        "reshape",
        "_unsafe_view",
        "flatten",
        "unsqueeze",
        "squeeze",
        "expand",
        "expand_as",
        "permute",
        "transpose",
        "contiguous",
        "clone",
        "to",
        "float",
        "double",
        "half",
        "type_as",
        "alias",
        "getitem",
        "select",
        "slice",
    }
)
DIVIDE = frozenset({"truediv", "div", "__truediv__", "div_", "true_divide"})
NORMS = frozenset({"norm", "linalg_vector_norm", "linalg_norm", "frobenius_norm", "vector_norm", "std"})
#: Ops whose output is strictly positive whatever their input.
POSITIVE = frozenset({"exp", "softplus", "sigmoid", "cosh", "elu_plus_one"})
ADD = frozenset({"add", "add_", "__add__", "__radd__", "iadd"})
CLAMPS = frozenset({"clamp", "clamp_", "clamp_min", "clamp_min_", "clip", "clip_", "maximum"})


def through_views(view: View, node: LayerNode | None) -> LayerNode | None:
    """The first node behind ``node`` that is not a view or reshape."""
    for _ in range(16):
        if node is None or node.target not in VIEWS:
            return node
        node = view.input_node(node)
    return node


def scalar_values(node: LayerNode) -> list[float]:
    return [float(v) for v in node.attrs.get("scalars", ()) if isinstance(v, int | float) and not isinstance(v, bool)]


def has_floor(view: View, node: LayerNode | None) -> bool:
    """``node``'s value is kept away from 0: ``+ eps``, ``clamp(min=eps)``, or an op that is always positive."""
    node = through_views(view, node)
    if node is None:
        return False
    if node.target in POSITIVE or node.activation in POSITIVE:
        return True
    if node.target in ADD:
        if any(v > 0 for v in scalar_values(node)) or float(node.attrs.get("alpha", 0) or 0) > 0:
            return True
        # ``x + self.eps`` with eps a buffer or parameter: an operand that is a stored tensor
        return any((source := view.by_name.get(name)) is not None and source.op == "get_attr" for name in node.inputs)
    if node.target == "where":
        return _guarded(view, node)
    if node.target in CLAMPS:
        low = node.attrs.get("min")
        if isinstance(low, int | float) and low > 0:
            return True
        values = scalar_values(node)
        return bool(values) and values[0] > 0
    return False


#: The eps the fixes suggest: far below float32 resolution of typical values, above its smallest normal.
EPS = "1e-12"
LOGS = frozenset({"log", "log_", "log2", "log10"})
_POWS = frozenset({"pow", "pow_", "__pow__", "float_power"})
#: Ops that keep a non-finite gradient non-finite on its way back (0·inf and inf - inf are NaN).
_ELEMENTWISE = frozenset({"mul", "mul_", "__mul__", "add", "add_", "__add__", "sub", "sub_", "__sub__", "neg", "abs"})
_MASKS = frozenset({"where", "masked_fill", "masked_fill_"})
#: Comparisons a mask is made of, and ``abs`` inside one (``x.abs() > eps`` tests ``x``).
_TESTS = frozenset({"gt", "ge", "lt", "le", "ne", "greater", "greater_equal", "less", "less_equal", "not_equal", "abs"})
_ONES = frozenset({"ones_like", "full_like", "new_ones"})


@dataclass(frozen=True)
class Singular:
    """An op whose derivative is infinite where ``operand`` is 0."""

    node: LayerNode
    operand: LayerNode | None
    derivative: str
    fixed: str
    """The op written with an eps."""


def singular_at_zero(view: View, node: LayerNode) -> Singular | None:
    """``sqrt``, ``rsqrt``, ``reciprocal``, a ``log`` (not of a softmax or sigmoid: GL601's) or ``pow(x, p<1)``."""
    if node.op != "call_function" or not node.inputs:
        return None
    target, operand = node.target, view.input_node(node)
    if target in ("sqrt", "sqrt_"):
        return Singular(node, operand, "1/(2√x)", f"torch.sqrt(x + {EPS})")
    if target in ("rsqrt", "rsqrt_"):
        return Singular(node, operand, "-1/(2·x^1.5)", f"torch.rsqrt(x + {EPS})")
    if target in ("reciprocal", "reciprocal_"):
        return Singular(node, operand, "-1/x²", f"1.0 / x.clamp_min({EPS})")
    if target in LOGS:
        source = through_views(view, operand)
        if source is not None and (source.role == "softmax" or source.activation == "sigmoid"):
            return None
        return Singular(node, operand, "1/x", f"torch.{target}(x.clamp_min({EPS}))")
    if target in _POWS:
        values = scalar_values(node)
        exponent = values[0] if values else node.attrs.get("exponent")
        if not isinstance(exponent, int | float) or exponent >= 1 or exponent == 0:
            return None
        return Singular(node, operand, f"{exponent:g}·x^({exponent - 1:g})", f"(x + {EPS}).pow({exponent:g})")
    return None


def division(view: View, node: LayerNode) -> Singular | None:
    """``a / x`` with ``x`` a computed tensor: the derivative -a/x² is infinite at x = 0."""
    if node.op != "call_function" or node.target not in DIVIDE:
        return None
    arguments = positional(node)
    if len(arguments) < 2 or arguments[1] is None:
        return None
    return Singular(node, view.by_name.get(arguments[1]), "-a/x²", f"a / x.clamp_min({EPS})")


def carries_signal(view: View, node: LayerNode | None) -> bool:
    """A value computed from the inputs (not a constant, a size or a stored tensor)."""
    if node is None or node.op == "get_attr":
        return False
    if view.estimates is None:
        return True
    rms = view.forward_rms(node.name)
    return rms is None or rms > 0


def positional(node: LayerNode) -> list[str | None]:
    """The call's positional arguments: a node's name, or None for a constant (from the trace's ``layout``)."""
    layout = node.attrs.get("layout")
    if not isinstance(layout, tuple):
        return list(node.inputs)
    names, found = iter(node.inputs), []
    for entry in layout:
        found.append(next(names, None) if entry == "<node>" else None)
    return found


def masked_singular_ops(view: View) -> dict[str, tuple[Singular, LayerNode]]:
    """Singular ops whose result a ``where``/``masked_fill`` discards where the op is singular (``where(x > 0,
    log(x), 0)``) with the operand itself unguarded: op name -> (the op, the mask)."""
    found: dict[str, tuple[Singular, LayerNode]] = {}
    for node in view.graph.nodes:
        if node.op != "call_function" or node.target not in _MASKS:
            continue
        arguments = positional(node)
        branches = arguments[1:3] if node.target == "where" else arguments[:1]
        for name in branches:
            for op in _behind(view, name):
                singular = singular_at_zero(view, op) or division(view, op)
                if singular is None or has_floor(view, singular.operand) or not carries_signal(view, singular.operand):
                    continue
                found.setdefault(op.name, (singular, node))
    return found


def _behind(view: View, name: str | None, depth: int = 6) -> list[LayerNode]:
    """``name``'s node and what feeds it through views and elementwise arithmetic, ``depth`` ops back."""
    found, pending, seen = [], [(name, 0)], set()
    while pending:
        current, level = pending.pop()
        node = view.by_name.get(current) if current is not None else None
        if node is None or node.name in seen or level > depth:
            continue
        seen.add(node.name)
        found.append(node)
        if node.target in VIEWS or node.target in _ELEMENTWISE:
            pending.extend((i, level + 1) for i in node.inputs)
        elif node.target in DIVIDE:
            arguments = positional(node)
            pending.append((arguments[0], level + 1))  # the numerator: a NaN there passes through the division
    return found


def _guarded(view: View, node: LayerNode) -> bool:
    """``torch.where(x > 0, x, 1.0)``: the first half of the double-where trick. The value is ``x`` where the
    condition (a test of ``x`` itself) holds and a positive constant elsewhere."""
    arguments = positional(node)
    if node.target != "where" or len(arguments) < 3 or arguments[0] is None or arguments[1] is None:
        return False
    filler = view.by_name.get(arguments[2]) if arguments[2] is not None else None
    if filler is None:
        values = scalar_values(node)
        if not values or values[-1] <= 0:
            return False
    elif filler.target not in _ONES:
        return False
    value = through_views(view, view.by_name.get(arguments[1]))
    tested = {n.name for n in _tested(view, view.by_name.get(arguments[0]))}
    return value is not None and value.name in tested


def _tested(view: View, condition: LayerNode | None) -> list[LayerNode]:
    """The values a condition compares (``x > 0``, ``x.abs() > eps``, ``x != 0``)."""
    if condition is None or condition.target not in _TESTS:
        return []
    found = []
    for name in condition.inputs:
        source = through_views(view, view.by_name.get(name))
        if source is not None:
            found.append(source)
            found.extend(_tested(view, source))
    return found
