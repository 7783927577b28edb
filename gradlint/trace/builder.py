"""Turn the ops a tracer saw into annotated ``LayerNode``s.

Every tracing method (fx, export, hooks) reports the same ``RawOp`` events; the
annotations that depend on the graph as a whole — residual adds, the activation a
layer feeds, how often a module is applied — are computed here once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from gradlint.trace import ops
from gradlint.trace.locations import user_frame
from gradlint.types import LayerNode, SourceLocation, frozen_mapping, nearest_site


@dataclass
class RawOp:
    """One op as a tracer reports it, before annotation."""

    name: str
    op: str
    """``placeholder``, ``call_module``, ``call_function``, ``get_attr`` or ``output``."""
    target: str
    inputs: tuple[str, ...] = ()
    module: str | None = None
    """Module path: the called module, or for functions the innermost module whose forward holds the call."""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    stack_trace: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


# Nodes that pass a signal through unchanged in kind: looked through when finding which activation a layer feeds.
_PASS_THROUGH = frozenset({"dropout", "reshape"})
_SAFE_NAME = re.compile(r"[^0-9A-Za-z_.]")


def _follow_in_place(raw: Sequence[RawOp]) -> list[RawOp]:
    """Later uses of a tensor that an in-place op changed read the changed value.

    fx records ``logits.copy_(logits + bias)`` or ``x.mul_(gamma)`` as a node, but code that goes on
    using ``logits`` or ``x`` names the value from before it: the in-place op would look like a dead
    end and its inputs would get no gradient. (``torch.export`` functionalises, so its graphs already
    read the new value.)
    """
    latest: dict[str, str] = {}  # a value's name -> the in-place op that last changed it
    rewritten: list[RawOp] = []
    for op in raw:
        inputs = tuple(latest.get(name, name) for name in op.inputs)
        if inputs != op.inputs:
            op = replace(op, inputs=inputs)
        rewritten.append(op)
        if op.op == "call_function" and op.inputs and _is_in_place(op.target):
            changed = op.inputs[0]
            for name, version in list(latest.items()):
                if version == changed:
                    latest[name] = op.name
            latest[changed] = op.name
    return rewritten


def _is_in_place(target: str) -> bool:
    return target.endswith("_") and not target.startswith("_")


def build_nodes(
    raw: Sequence[RawOp],
    model: nn.Module,
    construction_sites: Mapping[str, SourceLocation],
) -> tuple[LayerNode, ...]:
    modules = dict(model.named_modules())
    raw = _follow_in_place(raw)
    consumers: dict[str, list[int]] = {op.name: [] for op in raw}
    for index, op in enumerate(raw):
        for source in op.inputs:
            if source in consumers:
                consumers[source].append(index)

    roles: list[str | None] = []
    activations: list[str | None] = []
    attrs_list: list[dict[str, Any]] = []
    module_types: list[str | None] = []
    for op in raw:
        attrs = dict(op.attrs)
        role: str | None = None
        activation: str | None = None
        module_type: str | None = None
        if op.op == "call_module" and op.module is not None and op.module in modules:
            module = modules[op.module]
            module_type = type(module).__name__
            role = ops.module_role(module)
            activation = ops.activation_of_module(module)
            attrs = {**ops.module_attrs(module), **attrs}
        elif op.op == "call_function":
            role = ops.function_role(op.target)
            activation = ops.activation_of_function(op.target)
            if op.module is not None and op.module in modules:
                module_type = type(modules[op.module]).__name__
        roles.append(role)
        activations.append(activation)
        attrs_list.append(attrs)
        module_types.append(module_type)

    _mark_residual_adds(raw, roles)
    call_counts = Counter(op.module for op in raw if op.op == "call_module")
    seen_calls: Counter[str] = Counter()

    nodes: list[LayerNode] = []
    for index, op in enumerate(raw):
        call_index = 0
        call_count = 1
        params = 0
        location: SourceLocation | None = None
        forward_location = user_frame(op.stack_trace) if op.stack_trace else None
        if op.op == "call_module" and op.module is not None:
            call_index = seen_calls[op.module]
            seen_calls[op.module] += 1
            call_count = call_counts[op.module]
            module = modules.get(op.module)
            if module is not None:
                params = sum(p.numel() for p in module.parameters())
            location = nearest_site(op.module, construction_sites)
        elif op.op == "call_function":
            location = forward_location or (
                nearest_site(op.module, construction_sites) if op.module is not None else None
            )
        nodes.append(
            LayerNode(
                name=op.name,
                op=op.op,
                target=op.target,
                inputs=op.inputs,
                module=op.module,
                module_type=module_types[index],
                shape=op.shape,
                dtype=op.dtype,
                role=roles[index],
                activation=activations[index],
                feeds_activation=_fed_activation(index, raw, roles, activations, consumers),
                params=params,
                call_index=call_index,
                call_count=call_count,
                location=location,
                forward_location=forward_location,
                attrs=frozen_mapping(attrs_list[index]),
            )
        )
    return tuple(nodes)


def _fed_activation(
    index: int,
    raw: Sequence[RawOp],
    roles: Sequence[str | None],
    activations: Sequence[str | None],
    consumers: Mapping[str, list[int]],
) -> str | None:
    if roles[index] in (None, "activation", "reshape", "dropout", "add", "residual-add") or raw[index].op not in (
        "call_module",
        "call_function",
    ):
        return None
    current = index
    for _ in range(8):
        users = consumers.get(raw[current].name, [])
        if len(users) != 1:
            return None
        current = users[0]
        if activations[current] is not None:
            return activations[current]
        if roles[current] not in _PASS_THROUGH:
            return None
    return None


_LAYER_ROLES = frozenset({"linear", "conv", "attention", "recurrent", "normalization", "embedding"})


def _mark_residual_adds(raw: Sequence[RawOp], roles: list[str | None]) -> None:
    """An add whose two inputs descend from one earlier node, with a layer on at least one of the two paths,
    is a residual (or fork-join) merge; ``x + 0.044715 * x**3`` inside a GELU is not."""
    position = {op.name: i for i, op in enumerate(raw)}
    layers = sum(1 << i for i, role in enumerate(roles) if role in _LAYER_ROLES)
    ancestors: list[int] = []
    for i, op in enumerate(raw):
        bits = 0
        if _carries_signal(op):
            for source in op.inputs:
                j = position.get(source)
                if j is not None and _carries_signal(raw[j]):
                    bits |= ancestors[j] | (1 << j)
        ancestors.append(bits)
        if roles[i] == "add":
            tensor_inputs = [position[s] for s in op.inputs if s in position and _carries_signal(raw[position[s]])]
            if len(tensor_inputs) >= 2:
                a, b = tensor_inputs[0], tensor_inputs[1]
                lineage_a = ancestors[a] | (1 << a)
                lineage_b = ancestors[b] | (1 << b)
                if lineage_a & lineage_b and (lineage_a ^ lineage_b) & layers:
                    roles[i] = "residual-add"


def _carries_signal(op: RawOp) -> bool:
    """Tensors computed from the inputs; not parameters, and not sizes (``x.size(1)`` feeding ``arange``)."""
    return op.op != "get_attr" and (op.shape is not None or op.op == "placeholder")


def safe_node_name(text: str) -> str:
    return _SAFE_NAME.sub("_", text)
