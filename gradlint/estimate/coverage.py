"""How much of a model the estimate could see (DESIGN §2c): ops with a rule, and weights whose estimate
crosses only ops with rules.

A weight's predicted gradient is ``N·g·E[x²]``: ``g`` comes from the output through every op on the
gradient's path back to the weight's layer, and ``E[x²]`` from the inputs through every op before that
layer. A weight is covered when neither path crosses an op without a rule (or whose rule had to guess):
:func:`forward_unseen` carries the op kinds each node's statistics went through, the backward pass those
on each gradient's path. Downstream ops' own forward statistics (a norm's σ) are not followed further:
that would make one unknown op anywhere uncover every weight before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from gradlint.types import LayerNode, frozen_mapping
from gradlint.types.estimates import LOW_COVERAGE, Coverage

__all__ = ["LOW_COVERAGE", "Coverage", "coverage_of", "forward_unseen", "op_kind"]


def op_kind(node: LayerNode) -> str:
    """What a missing rule is named by: the module class for a module call, else the function or method."""
    if node.op == "call_module":
        return node.module_type or node.target
    return node.target


def forward_unseen(nodes: Iterable[LayerNode], uncertain: Mapping[str, str | None]) -> dict[str, frozenset[str]]:
    """For every node, the op kinds without a rule that its forward statistics went through (its own included)."""
    seen: dict[str, frozenset[str]] = {}
    for node in nodes:
        kinds = frozenset().union(*(seen.get(i, frozenset()) for i in node.inputs))
        if uncertain.get(node.name):
            kinds = kinds | {op_kind(node)}
        seen[node.name] = kinds
    return seen


def coverage_of(
    nodes: Iterable[LayerNode],
    uncertain: Mapping[str, str | None],
    weights: Iterable[str],
    weight_unseen: Mapping[str, frozenset[str]],
) -> Coverage:
    """The record from each ruled node's ``uncertain`` reason (None: covered) and each weight's unseen op kinds."""
    by_name = {n.name: n for n in nodes}
    missing = Counter(op_kind(by_name[name]) for name, reason in uncertain.items() if reason)
    names = list(weights)
    uncovered = {name: tuple(sorted(weight_unseen[name])) for name in names if weight_unseen.get(name)}
    return Coverage(
        ops=len(uncertain),
        ops_covered=sum(1 for reason in uncertain.values() if not reason),
        weights=len(names),
        weights_covered=len(names) - len(uncovered),
        missing=tuple(sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))),
        uncovered_by=frozen_mapping(uncovered),
    )
