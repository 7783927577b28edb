"""The rule registry: every module in ``gradlint.rules`` (the repo's top-level ``rules/``) is one rule.

A rule module defines ``CODE``, ``NAME``, ``SEVERITY``, ``KIND``, a docstring with the sections
*What it does*, *Why is this bad*, *Example* and *Use instead*, ``check(ctx: RuleContext)``
yielding ``Hit``s, and ``VALID`` / ``INVALID`` example model files (source text, or a
``rulekit.Example`` that also states the module and a phrase of the message) that the test suite runs. Codes are grouped by hundreds: ``GL0xx`` model integrity, ``GL1xx`` end-to-end
gradient scale, ``GL2xx`` initialisation, ``GL3xx`` normalisation and residuals, ``GL4xx``
attention, ``GL5xx`` recurrence, ``GL6xx`` numerically unstable ops, ``GL7xx`` dead units, ``GL8xx``
precision (only under ``--precision``). A rule whose check needs an option to say anything (``GL8xx``:
``precision``) names it in ``EXAMPLE_OPTIONS``, the ``LintOptions`` its examples run under.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

from gradlint.errors import UsageError
from gradlint.rulekit import Example, Hit, RuleContext
from gradlint.types import FINDING_KINDS, Severity

_CODE = re.compile(r"^GL\d{3}$")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SECTIONS = ("What it does", "Why is this bad", "Example", "Use instead")


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    kind: str
    summary: str
    doc: str
    check: Callable[[RuleContext], Iterator[Hit]]
    valid: tuple[Example, ...]
    invalid: tuple[Example, ...]
    example_options: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """``LintOptions`` keywords the examples run under (``{"precision": "float16"}``)."""


def _example(value: str | Example) -> Example:
    return value if isinstance(value, Example) else Example(value)


class RuleDefinitionError(Exception):
    """A rule file breaks the rule contract: a bug in gradlint, not the user's doing."""


def _rule_from_module(module: ModuleType) -> Rule:
    where = module.__name__
    try:
        code, name, severity, kind = module.CODE, module.NAME, module.SEVERITY, module.KIND
        check = module.check
        valid = tuple(_example(e) for e in module.VALID)
        invalid = tuple(_example(e) for e in module.INVALID)
    except AttributeError as exc:
        raise RuleDefinitionError(f"{where}: {exc}") from exc
    doc = (module.__doc__ or "").strip()
    problems = []
    if not _CODE.match(code):
        problems.append(f"CODE {code!r} is not GLnnn")
    if not _NAME.match(name):
        problems.append(f"NAME {name!r} is not kebab-case")
    if not isinstance(severity, Severity):
        problems.append("SEVERITY is not a Severity")
    if kind not in FINDING_KINDS:
        problems.append(f"KIND {kind!r} is not one of {sorted(FINDING_KINDS)}")
    problems += [f"docstring lacks the section {s!r}" for s in _SECTIONS if f"## {s}" not in doc]
    if not valid or not invalid:
        problems.append("VALID and INVALID need at least one example each")
    if any(e.module is not None or e.says is not None for e in valid):
        problems.append("a VALID example produces no finding, so it states no module or message")
    if problems:
        raise RuleDefinitionError(f"{where}: " + "; ".join(problems))
    options = dict(getattr(module, "EXAMPLE_OPTIONS", {}))
    return Rule(code, name, severity, kind, doc.splitlines()[0].strip(), doc, check, valid, invalid, options)


@cache
def all_rules() -> tuple[Rule, ...]:
    import gradlint.rules as package

    rules = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        rules.append(_rule_from_module(importlib.import_module(f"{package.__name__}.{info.name}")))
    codes = [r.code for r in rules]
    duplicates = {c for c in codes if codes.count(c) > 1}
    if duplicates:
        raise RuleDefinitionError(f"duplicate rule codes: {sorted(duplicates)}")
    return tuple(sorted(rules, key=lambda r: r.code))


def get_rule(code_or_name: str) -> Rule:
    for rule in all_rules():
        if code_or_name.upper() == rule.code or code_or_name == rule.name:
            return rule
    raise UsageError(f"unknown rule {code_or_name!r}; `gradlint rule --all` lists them")


def _matches(selector: str, rule: Rule) -> bool:
    return selector == "ALL" or rule.code.startswith(selector) or selector == rule.name


def _check_selectors(selectors: Iterable[str], option: str) -> list[str]:
    cleaned = []
    for raw in selectors:
        selector = raw.strip()
        if not selector:
            continue
        upper = selector.upper()
        if upper == "ALL" or upper.startswith("GL"):
            selector = upper
        if not any(_matches(selector, rule) for rule in all_rules()):
            raise UsageError(f"{option}: unknown rule code or prefix {raw!r}; `gradlint rule --all` lists the rules")
        cleaned.append(selector)
    return cleaned


def select_rules(
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
) -> tuple[Rule, ...]:
    """Rules chosen as ruff chooses them: ``select`` (default ``ALL``) plus ``extend_select``, minus ``ignore``.

    Selectors are codes, prefixes (``GL1``), rule names or ``ALL``; one that matches no rule is a usage error.
    """
    chosen = _check_selectors(select if select is not None else ["ALL"], "--select")
    chosen += _check_selectors(extend_select, "--extend-select")
    dropped = _check_selectors(ignore, "--ignore")
    return tuple(
        rule
        for rule in all_rules()
        if any(_matches(s, rule) for s in chosen) and not any(_matches(s, rule) for s in dropped)
    )
