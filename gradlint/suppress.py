"""Findings the user has silenced: inline comments on the line that built the layer, and per-file ignores.

Inline, on the line a finding points at (the line that constructs the layer, or that holds the op)::

    self.fc = nn.Linear(256, 256)  # gradlint: ignore[GL101]
    self.fc = nn.Linear(256, 256)  # gradlint: ignore[GL101, GL102]
    self.fc = nn.Linear(256, 256)  # noqa: GL101
    self.fc = nn.Linear(256, 256)  # gradlint: ignore          (every gradlint code)

For a constructor call that spans several lines, the comment may also stand on the first line of
the statement. A bare ``# noqa`` (no codes) does *not* silence gradlint: on a line that builds a
layer it is almost always meant for another linter (a long line), and an architecture finding is
too important to lose by accident. Codes are matched as ``--select`` matches them: a code, a
prefix (``GL1``) or a rule name.

Only real comments count (read with ``tokenize``), never text inside a string.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from gradlint.types import Finding

ALL_CODES = "ALL"

_GRADLINT_IGNORE = re.compile(r"#\s*gradlint\s*:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)
_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[,\s]+[A-Za-z]+[0-9]+)*)", re.IGNORECASE)


def matches_selector(selector: str, finding: Finding) -> bool:
    """``selector`` (a code, a code prefix, a rule name or ``ALL``) names ``finding``'s rule."""
    upper = selector.strip().upper()
    return upper == ALL_CODES or finding.code.startswith(upper) or selector.strip() == finding.name


# --- inline comments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """What suppression needs from one source file: its lines, comments and statement spans."""

    lines: tuple[str, ...]
    comments: dict[int, str]
    """1-based line -> the comment text on it (``#`` included)."""
    statements: tuple[tuple[int, int], ...]
    """``(first line, last line)`` of every statement, for multi-line constructor calls."""
    calls: tuple[tuple[int, int], ...] = ()
    """``(first line, last line)`` of every call expression."""

    def call_span(self, line: int) -> tuple[int, int]:
        """The widest call that starts on ``line`` (a constructor call over several lines), else the statement."""
        ends = [last for first, last in self.calls if first == line]
        if ends:
            return (line, max(ends))
        return self.statement_span(line)

    def statement_span(self, line: int) -> tuple[int, int]:
        """The innermost statement that contains ``line`` (``(line, line)`` when none does)."""
        best = (line, line)
        best_size: int | None = None
        for first, last in self.statements:
            if first <= line <= last and (best_size is None or last - first < best_size):
                best, best_size = (first, last), last - first
        return best


def read_source(path: str) -> SourceFile | None:
    """The parsed file at ``path``, or None for a pseudo-path or a file that cannot be read."""
    if not path or path.startswith("<"):
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _read_source(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _read_source(path: str, mtime_ns: int, size: int) -> SourceFile | None:  # noqa: ARG001 - cache keys
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    text = raw.decode("utf-8", errors="replace")
    tree = _parse(text)
    return SourceFile(tuple(text.splitlines()), _comments(text), _spans(tree, ast.stmt), _spans(tree, ast.Call))


def _comments(text: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):  # an unfinished file: keep what was read
        pass
    return comments


def _parse(text: str) -> ast.AST | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _spans(tree: ast.AST | None, kind: type[ast.AST]) -> tuple[tuple[int, int], ...]:
    if tree is None:
        return ()
    return tuple(
        (node.lineno, getattr(node, "end_lineno", None) or node.lineno)  # type: ignore[attr-defined]
        for node in ast.walk(tree)
        if isinstance(node, kind)
    )


def parse_directive(comment: str) -> frozenset[str]:
    """The codes a comment silences: ``{"ALL"}`` for a bare ``# gradlint: ignore``, empty for none."""
    codes: set[str] = set()
    for match in _GRADLINT_IGNORE.finditer(comment):
        listed = match.group("codes")
        if listed is None:
            codes.add(ALL_CODES)
        else:
            codes.update(_split_codes(listed))
    for match in _NOQA.finditer(comment):
        codes.update(_split_codes(match.group("codes")))
    return frozenset(codes)


def _split_codes(text: str) -> Iterable[str]:
    return (part for part in re.split(r"[,\s]+", text.strip()) if part)


def silenced_codes(path: str, line: int) -> frozenset[str]:
    """Codes silenced at ``path:line``: by a comment on that line or on the first line of its statement."""
    source = read_source(path)
    if source is None:
        return frozenset()
    first, _ = source.statement_span(line)
    codes: set[str] = set()
    for where in {line, first}:
        comment = source.comments.get(where)
        if comment:
            codes.update(parse_directive(comment))
    return frozenset(codes)


def is_suppressed(finding: Finding) -> bool:
    """Whether an inline comment at the finding's location silences it."""
    if finding.location is None:
        return False
    return any(matches_selector(code, finding) for code in silenced_codes(finding.location.path, finding.location.line))


# --- per-file ignores --------------------------------------------------------------------------


@dataclass(frozen=True)
class PerFileIgnore:
    """``"legacy/*.py" = ["GL1"]`` of ``[tool.gradlint.per-file-ignores]``."""

    pattern: str
    """A glob relative to ``base``: ``*`` and ``?`` stay within a folder, ``**`` crosses folders; a
    pattern without ``/`` also matches a file's name in any folder, and a folder matches its files."""
    selectors: tuple[str, ...]
    base: str
    """The directory of the configuration file that holds the pattern (absolute)."""

    def matches_path(self, path: str) -> bool:
        if not path or path.startswith("<"):
            return False
        relative = os.path.relpath(os.path.abspath(path), self.base).replace(os.sep, "/")
        if relative.startswith("../"):
            return False
        regex = _glob_regex(self.pattern)
        parts = relative.split("/")
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        if "/" not in self.pattern.strip("/"):
            candidates += parts
        return any(regex.fullmatch(candidate) for candidate in candidates)

    def silences(self, finding: Finding, model_source: str | None = None) -> bool:
        """The finding's file (or the file of the model it belongs to) matches and a selector names it."""
        paths = [finding.location.path] if finding.location is not None else []
        if model_source:
            paths.append(model_source)
        return any(self.matches_path(p) for p in paths) and any(matches_selector(s, finding) for s in self.selectors)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().removeprefix("./").strip("/")
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))
