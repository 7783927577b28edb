"""The import graph of gradlint/ and rules/: no cycle, and imports flow one way (DESIGN §1).

Read from the syntax tree, so every import counts: module level, inside functions, and under
``if TYPE_CHECKING:``. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``; relative imports resolve against the importing package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ((ROOT / "gradlint", "gradlint"), (ROOT / "rules", "gradlint.rules"))

#: DESIGN §1, lowest first: a module imports only from its own layer or the ones below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("gradlint._version", "gradlint.errors", "gradlint.causes", "gradlint.sources", "gradlint.types"),
    ("gradlint.verdict", "gradlint.suppress", "gradlint.baseline", "gradlint.optimizers"),
    ("gradlint.load",),
    ("gradlint.trace",),
    ("gradlint.estimate", "gradlint.probe"),
    ("gradlint.rulekit", "gradlint.rules"),
    ("gradlint.registry", "gradlint.engine", "gradlint.catalog", "gradlint.docs"),
    ("gradlint.report",),
    ("gradlint.options", "gradlint.config"),
    ("gradlint.api", "gradlint.scale", "gradlint.testing", "gradlint.pytest_plugin"),
    ("gradlint.cli", "gradlint.__main__", "gradlint"),
)


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) for every module of the two trees."""
    found = {}
    for base, package in TREES:
        for path in base.rglob("*.py"):
            parts = [package, *path.relative_to(base).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports(name: str, path: Path, is_package: bool, known: Mapping[str, object]) -> set[str]:
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                source = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    found.add(f"{source}.{alias.name}")
                elif source in known:
                    found.add(source)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, is_package, known) for name, (path, is_package) in known.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(name: str) -> int:
    best = max(
        (
            (len(prefix), rank)
            for rank, layer in enumerate(LAYERS)
            for prefix in layer
            if name == prefix or name.startswith(prefix + ".")
        ),
        default=None,
    )
    assert best is not None, f"{name} belongs to no layer of tests/test_structure.py LAYERS: add it"
    return best[1]


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "gradlint.types.graph" in graph["gradlint.types"]
    assert "gradlint.rulekit" in graph["gradlint.rules.gl101_exploding_gradient"]
    assert "gradlint.report.plot_html" in graph["gradlint.report.plot"]  # an in-function import counts


def test_finds_a_cycle_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_imports_flow_one_way() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_types_are_the_ground_floor() -> None:
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("gradlint.types"):
            assert all(t.startswith("gradlint.types") for t in targets), (name, targets)
        if name not in ("gradlint.__main__",):
            assert "gradlint.cli" not in targets, f"{name} imports the CLI"
    for path in (ROOT / "gradlint" / "types").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        runtime = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in runtime if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in runtime if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m for m in names if m == "torch" or m.startswith("torch.")}, f"{path.name} imports torch"


def test_formatters_only_format() -> None:
    """The report stage reads records; it does not reach back into the stages that made them."""
    stages = ("gradlint.load", "gradlint.trace", "gradlint.estimate", "gradlint.probe", "gradlint.baseline")
    reaching = {
        (name, target)
        for name, targets in import_graph().items()
        if name.startswith("gradlint.report")
        for target in targets
        if target.startswith(stages)
    }
    assert reaching == set()
