"""Target strings (``path.py``, ``path.py:ATTR``, directories) -> ``TargetSpec`` records.

Nothing here imports the user's files: whether a file in a directory is worth
importing is decided from its syntax tree alone.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from gradlint.errors import LoadError

#: Directories never descended into in directory mode (plus every hidden directory).
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".venv", "venv", "env", "build", "dist", "site-packages", "node_modules", ".git"}
)

#: Files never imported in directory mode: importing ``setup.py`` runs ``setup()``.
SKIPPED_FILES = frozenset({"setup.py", "conftest.py"})

#: A file "imports torch" when it imports one of these top-level packages (all build ``nn.Module`` models).
TORCH_PACKAGES = frozenset(
    {"torch", "torchvision", "torchaudio", "torchtext", "timm", "transformers", "lightning", "pytorch_lightning"}
)

#: Level 2 of discovery, in the order tried (see ``discover``); defined here, where nothing imports torch.
FACTORY_NAMES = ("build_model", "get_model", "make_model", "model")

#: Names a file defines for gradlint: a file defining one is worth importing even when it imports no torch.
PROVIDED_NAMES = frozenset({*FACTORY_NAMES, "example_inputs", "example_kwargs", "EXAMPLE_INPUTS"})

# Fallback for a file that does not parse: an import statement of a torch package at the start of a line.
_TORCH_IMPORT_LINE = re.compile(r"^\s*(?:import|from)\s+(?:" + "|".join(sorted(TORCH_PACKAGES)) + r")\b", re.MULTILINE)


@dataclass(frozen=True)
class TargetSpec:
    """One file to lint, and optionally the attribute naming the model in it."""

    path: str
    """The path as the user wrote it (relative stays relative), used in every message."""
    attr: str | None = None
    """``ATTR`` of ``path.py:ATTR``; None means discovery."""
    from_directory: bool = False
    """True for files found by expanding a directory: a file without a model is skipped quietly."""
    zoo: str | None = None
    """``torchvision``, ``timm`` or ``hf`` for a library model (``path`` is then the whole target
    without ``:CLASS``, ``timm:convnext_tiny``); None for a file."""

    def __str__(self) -> str:
        return self.path if self.attr is None else f"{self.path}:{self.attr}"


#: Target prefix of a library model -> the install extra that provides the library (see ``zoo``).
ZOO_EXTRAS = {"torchvision": "vision", "timm": "vision", "hf": "hf"}


@dataclass(frozen=True)
class ZooName:
    """A zoo target split into its parts."""

    family: str
    """``torchvision``, ``timm`` or ``hf``."""
    name: str
    """The model name, or for ``hf`` the config path (or model type)."""
    cls: str | None = None
    """``hf`` only: the ``transformers`` class named after the config (``:BertModel``)."""


def split_zoo_target(text: str) -> ZooName | None:
    """``timm:convnext_tiny`` -> its parts; None when ``text`` is no zoo target (or an existing path)."""
    family, sep, rest = text.partition(":")
    if not sep or family not in ZOO_EXTRAS or os.path.exists(text):
        return None
    if family == "hf":
        head, colon, tail = rest.rpartition(":")
        if colon and head and tail.isidentifier() and not os.path.exists(rest):
            return ZooName(family, head, tail)
    return ZooName(family, rest)


def parse_target(text: str) -> TargetSpec:
    """Split ``PATH[:EXPR]``.

    ``EXPR`` is a name (``Net``, ``module_var.submodel``) or any Python expression evaluated in the
    file's namespace (``GPT(GPTConfig(n_layer=4))``, ``Sequence().double()``), so it may hold colons
    itself (``Net(**{'a': 1})``, slices). The split is at the first colon that follows ``.py`` in a
    prefix naming an existing file, else at the first colon that follows ``.py``; a text that is an
    existing path, or has no such colon and no ``:NAME`` tail, stays a path, so ``C:\\models\\net.py``
    and ``odd:name.py`` stay paths. Nothing is checked here: an expression that does not parse is
    reported when the target is expanded (``check_expression``).
    ``torchvision:NAME``, ``timm:NAME`` and ``hf:CONFIG[:CLASS]`` name library models (see ``zoo``).
    """
    zoo = split_zoo_target(text)
    if zoo is not None:
        path = text if zoo.cls is None else text[: -len(zoo.cls) - 1]
        return TargetSpec(path, zoo.cls, zoo=zoo.family)
    if os.path.exists(text):
        return TargetSpec(text)
    split = _py_colon(text)
    if split is not None:
        return TargetSpec(text[:split], text[split + 1 :])
    head, sep, tail = text.rpartition(":")
    if sep and head and is_name(tail):
        return TargetSpec(head, tail)
    return TargetSpec(text)


def _py_colon(text: str) -> int | None:
    """Index of the colon ending ``PATH.py`` (see ``parse_target``); None when there is none to split at."""
    positions = [m.start() + 3 for m in re.finditer(r"\.py:", text, flags=re.IGNORECASE)]
    positions = [i for i in positions if text[i + 1 :].strip()]
    if not positions:
        return None
    return next((i for i in positions if os.path.isfile(text[:i])), positions[0])


def is_name(text: str) -> bool:
    """Whether ``text`` is a dotted name (``Net``, ``holder.encoder``) rather than a larger expression."""
    parts = text.split(".")
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in parts)


def check_expression(spec: TargetSpec) -> None:
    """``LoadError`` (one line) when the ``EXPR`` of ``PATH:EXPR`` is not a Python expression."""
    if spec.attr is None or spec.zoo is not None or is_name(spec.attr):
        return
    if spec.attr.startswith(":"):
        raise LoadError(
            f"{spec.path}::{spec.attr[1:]}: one colon separates the file and the model: {spec.path}:{spec.attr[1:]}"
        )
    try:
        ast.parse(spec.attr.strip(), mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise LoadError(f"{spec}: bad model expression: {exc.msg}{column}") from None


def expand_targets(texts: Iterable[str]) -> list[TargetSpec]:
    """Parse every target and expand directories into their model files.

    A directory becomes its ``*.py`` files, recursively and sorted, leaving out hidden
    directories, ``SKIPPED_DIRS``, ``SKIPPED_FILES`` and files that cannot hold a model
    (see ``may_hold_model``). Specs from a directory have ``from_directory=True``.
    A file named twice is kept once, at its first place.

    Raises ``LoadError`` for a path that does not exist, or for ``ATTR`` on a directory.
    """
    specs: list[TargetSpec] = []
    seen: dict[tuple[str, str | None], int] = {}
    for text in texts:
        for spec in _expand_one(parse_target(text)):
            key = (os.path.realpath(spec.path), spec.attr)
            if key not in seen:
                seen[key] = len(specs)
                specs.append(spec)
            elif not spec.from_directory:
                # Named explicitly as well: "no model found" must not be silent for it.
                index = seen[key]
                specs[index] = replace(specs[index], from_directory=False)
    return specs


def _expand_one(spec: TargetSpec) -> list[TargetSpec]:
    if spec.zoo is not None:
        return [spec]  # built, not read: checked when loaded
    if os.path.isdir(spec.path):
        if spec.attr is not None:
            raise LoadError(
                f"{spec}: ATTR cannot be used with a directory; name a file, e.g. {spec.path}/model.py:{spec.attr}"
            )
        return [TargetSpec(path, None, from_directory=True) for path in _model_files(spec.path)]
    check_file(spec.path)
    check_expression(spec)
    return [spec]


def check_file(path: str) -> None:
    """Raise ``LoadError`` unless ``path`` is an existing Python file."""
    if not os.path.exists(path):
        raise LoadError(f"{path}: no such file or directory")
    if not os.path.isfile(path):
        raise LoadError(f"{path}: not a regular file")
    if not path.endswith(".py"):
        raise LoadError(f"{path}: not a Python file; name a .py file or a directory")


def _model_files(directory: str) -> list[str]:
    files = [path for path in _python_files(directory) if may_hold_model(path)]
    return sorted(files)


def _python_files(directory: str) -> Iterator[str]:
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d))
        for name in sorted(names):
            if name.endswith(".py") and name not in SKIPPED_FILES:
                yield os.path.normpath(os.path.join(root, name))


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")


def imports_torch(path: str) -> bool:
    """Whether the file imports torch or a torch-based package, decided from its syntax tree.

    Never imports the file. A file that does not parse counts when one of its lines
    is an import of such a package: the user asked to lint that directory, so a broken
    model file is reported as a syntax error rather than skipped, while broken files
    that have nothing to do with torch (templates, Python 2 scripts) stay quiet.
    """
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError:
        return False
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return bool(_TORCH_IMPORT_LINE.search(source.decode("utf-8", errors="replace")))
    return any(name.split(".")[0] in TORCH_PACKAGES for name in imported_modules(tree))


def may_hold_model(path: str, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a file is worth importing to look for a model, decided from the source alone.

    It is when it imports torch (see ``imports_torch``), defines a discovery factory,
    ``example_inputs`` or ``EXAMPLE_INPUTS``, or imports a file next to it (or in its package)
    that is: a ``build_model()`` importing its model from a neighbour counts.
    """
    if imports_torch(path):
        return True
    real = os.path.realpath(path)
    tree = _parse_quietly(path)
    if tree is None or real in _seen:
        return False
    if _defined_names(tree) & PROVIDED_NAMES:
        return True
    seen = _seen | {real}
    return any(may_hold_model(other, seen) for other in local_imports(tree, os.path.dirname(real)))


def _parse_quietly(path: str) -> ast.Module | None:
    try:
        with open(path, "rb") as handle:
            return ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def local_imports(tree: ast.Module, directory: str) -> list[str]:
    """The Python files in ``directory`` (or, for relative imports, its parents) that ``tree`` imports."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [(directory, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = directory
            for _ in range(max(node.level - 1, 0)):
                base = os.path.dirname(base)
            if node.level == 0 and not node.module:
                continue
            head = node.module or ""
            # ``from pkg import sub`` may name a submodule: each imported name is tried as one too.
            modules = [(base, head)] if head else []
            modules += [(base, f"{head}.{alias.name}".lstrip(".")) for alias in node.names if alias.name != "*"]
        else:
            continue
        for base, dotted in modules:
            file = _local_module_file(base, dotted)
            if file is not None and file not in found:
                found.append(file)
    return found


def _local_module_file(base: str, dotted: str) -> str | None:
    stem = os.path.join(base, *dotted.split("."))
    for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Absolute module names imported anywhere in ``tree`` (relative imports left out)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
