"""The rules' documentation read from their source files, without importing them.

``gradlint rule CODE`` needs only a rule's code, name, severity, kind and docstring; importing the
rule modules would import torch and the estimator (seconds). The same facts are read here from each
file's syntax tree; a test keeps this catalogue equal to the registry's.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gradlint.errors import UsageError

_FIELDS = ("CODE", "NAME", "SEVERITY", "KIND")


@dataclass(frozen=True)
class RuleDoc:
    code: str
    name: str
    severity: str  # the Severity's value: "info", "warning" or "error"
    kind: str
    doc: str


def _rules_folder() -> Path:
    # find_spec locates gradlint.rules (the repo's rules/, or the wheel's) without running it
    spec = importlib.util.find_spec("gradlint.rules")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("gradlint.rules is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _constant(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Severity":
        return node.attr.lower()  # Severity.ERROR -> "error"
    return None


def _read(path: Path) -> RuleDoc | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and target.id in _FIELDS:
                value = _constant(statement.value)
                if value is not None:
                    values[target.id] = value
    if set(values) != set(_FIELDS):
        return None
    doc = (ast.get_docstring(tree, clean=False) or "").strip()
    return RuleDoc(values["CODE"], values["NAME"], values["SEVERITY"], values["KIND"], doc)


@cache
def rule_docs() -> tuple[RuleDoc, ...]:
    """Every rule's documentation, sorted by code."""
    docs = (_read(path) for path in sorted(_rules_folder().glob("*.py")) if not path.name.startswith("_"))
    return tuple(sorted((d for d in docs if d is not None), key=lambda d: d.code))


def rule_doc(code_or_name: str) -> RuleDoc:
    for doc in rule_docs():
        if code_or_name.upper() == doc.code or code_or_name == doc.name:
            return doc
    raise UsageError(f"unknown rule {code_or_name!r}; `gradlint rule --all` lists them")
