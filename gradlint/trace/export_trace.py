"""Second choice: ``torch.export`` (non-strict), which follows data-independent Python that fx cannot.

export records ATen ops, each with the stack of modules it ran in; ops inside one call of
a layer (``Linear``, ``LayerNorm``, an ``nn.LSTM``) are folded back into one module call,
so the graph reads like the fx one.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from gradlint.trace import ops
from gradlint.trace.builder import RawOp, safe_node_name
from gradlint.trace.copies import shared_copy
from gradlint.trace.shapes import first_tensor_meta


def _export_kwargs(model: nn.Module) -> dict[str, Any]:
    """Turn caches off where the forward accepts it: KV caches make export fail on Hugging Face models."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}
    return {"use_cache": False} if "use_cache" in params else {}


@contextlib.contextmanager
def _quiet_torch_logs() -> Iterator[None]:
    """export logs whole graphs as warnings when it gives up; the failure reason is reported instead.

    torch configures its own loggers' levels, so only the process-wide switch silences them; the
    partial graph of a failed export is printed straight to stderr.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def trace_export(
    model: nn.Module, example_inputs: Sequence[Any], example_kwargs: Mapping[str, Any] | None = None
) -> list[RawOp]:
    kwargs = {**_export_kwargs(model), **(example_kwargs or {})}
    with _quiet_torch_logs():
        # on a copy: the forward runs on fake tensors, and whatever it caches on ``self`` must not reach the user's model
        program = torch.export.export(shared_copy(model), tuple(example_inputs), kwargs, strict=False)
    signature = program.graph_signature
    state_inputs = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    state_inputs.update(getattr(signature, "inputs_to_lifted_tensor_constants", {}) or {})
    modules = dict(model.named_modules())

    raw: list[RawOp] = []
    alias: dict[str, str] = {}  # export node name -> RawOp name
    groups: dict[str, RawOp] = {}
    groups_by_name: dict[str, RawOp] = {}
    group_keys: dict[str, str] = {}
    member_shapes: dict[str, tuple[tuple[int, ...] | None, str | None]] = {}
    settled: set[str] = set()
    calls: dict[str, int] = {}

    def leaf_key_of(group: RawOp) -> str:
        return group_keys[group.name]

    for node in program.graph.nodes:
        if node.op == "placeholder":
            shape, dtype = first_tensor_meta(node.meta.get("val"))
            if node.name in state_inputs:
                raw.append(RawOp(node.name, "get_attr", state_inputs[node.name], (), None, shape, dtype))
            else:
                raw.append(RawOp(node.name, "placeholder", "placeholder", (), None, shape, dtype))
            alias[node.name] = node.name
            continue
        if node.op == "output":
            inputs = tuple(dict.fromkeys(alias[a.name] for a in node.all_input_nodes if a.name in alias))
            raw.append(RawOp("output", "output", "output", inputs))
            continue
        if node.op != "call_function":
            continue
        stack = list((node.meta.get("nn_module_stack") or {}).items())
        leaf_key, leaf_path = None, None
        for key, (path, _type) in stack:
            path = _fqn(path)
            module = modules.get(path)
            if module is not None and path and ops.is_layer(module):
                leaf_key, leaf_path = key, path
                break
        shape, dtype = first_tensor_meta(node.meta.get("val"))
        inputs = [alias[a.name] for a in node.all_input_nodes if a.name in alias]
        for source in node.all_input_nodes:
            # A layer's output is the member its consumers read first (an LSTM's `out`, not `c_n`).
            member = member_shapes.pop(source.name, None)
            owner = groups_by_name.get(alias.get(source.name, ""))
            if (
                member is not None
                and owner is not None
                and owner.name not in settled
                and leaf_key_of(owner) != leaf_key
            ):
                owner.shape, owner.dtype = member
                settled.add(owner.name)
        if leaf_key is not None and leaf_path is not None:
            group = groups.get(leaf_key)
            if group is None or raw[-1] is not group:
                # a new call of this layer (or the same layer resumed after other ops: a new call too)
                calls[leaf_path] = calls.get(leaf_path, 0) + 1
                suffix = f"_{calls[leaf_path] - 1}" if calls[leaf_path] > 1 else ""
                name = safe_node_name(leaf_path.replace(".", "_")) + suffix
                group = RawOp(name, "call_module", leaf_path, (), leaf_path, None, None, node.meta.get("stack_trace"))
                groups[leaf_key] = group
                groups_by_name[name] = group
                group_keys[name] = leaf_key
                raw.append(group)
            new_inputs = [i for i in inputs if i != group.name and i not in state_inputs]
            group.inputs = tuple(dict.fromkeys((*group.inputs, *new_inputs)))
            if shape is not None:
                member_shapes[node.name] = (shape, dtype)
                if group.name not in settled:
                    group.shape, group.dtype = shape, dtype
            alias[node.name] = group.name
            continue
        innermost = _fqn(stack[-1][1][0]) if stack else ""
        name = ops.canonical_function_name(node.target)
        attrs = ops.scalar_args(tuple(node.args), dict(node.kwargs))
        raw.append(
            RawOp(
                node.name,
                "call_function",
                name,
                tuple(dict.fromkeys(inputs)),
                innermost,
                shape,
                dtype,
                node.meta.get("stack_trace"),
                attrs,
            )
        )
        alias[node.name] = node.name
    return raw


def _fqn(path: str) -> str:
    """export spells module paths like ``L['self'].layers[0]`` in some versions and ``layers.0`` in others."""
    if not path.startswith("L["):
        return path
    path = path.replace("L['self']", "").replace("['", ".").replace("']", "").replace("[", ".").replace("]", "")
    return path.lstrip(".")
