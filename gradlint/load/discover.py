"""Find the model(s) in an imported file: a named ``ATTR``, or discovery.

Discovery, first level that finds something wins:

1. module-level ``nn.Module`` instances (not imported ones, not submodules of another one);
2. the first of the factories ``build_model``, ``get_model``, ``make_model``, ``model``
   defined in the file and callable without arguments;
3. every ``nn.Module`` subclass defined in the file and constructible without arguments,
   except those used as building blocks inside another such class.

Levels 1 and 3 leave out modules without parameters (a loss such as
``criterion = nn.CrossEntropyLoss()``, an activation class): they cannot have
gradient problems and are not models.
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from gradlint.errors import LoadError
from gradlint.load.importer import ImportPlan, describe_exception

#: Level 2 of discovery, in the order tried.
FACTORY_NAMES = ("build_model", "get_model", "make_model", "model")

LOOKED_FOR = (
    "module-level nn.Module instances, factories " + "/".join(FACTORY_NAMES) + ", "
    "and nn.Module subclasses defined here constructible without arguments"
)


@dataclass(frozen=True)
class FoundModel:
    """A model and the attribute that gives it again (``path.py:attr``)."""

    attr: str
    model: nn.Module


def find_models(
    module: types.ModuleType, tree: ast.Module, plan: ImportPlan, attr: str | None, *, quiet: bool
) -> list[FoundModel]:
    """The model named by ``attr``, or every model discovery finds.

    ``tree`` is the file's syntax tree (to tell names the file imports from names it
    defines). With ``quiet`` (directory mode) a file without a model gives ``[]``;
    otherwise ``LoadError`` lists what was looked for.
    """
    if attr is not None:
        return [FoundModel(attr, model_from_attr(module, plan, attr))]
    for level in (_instances, _factory, _classes):
        found = level(module, tree, plan)
        if found:
            return found
    if quiet:
        return []
    raise LoadError(
        f"{plan.display_path}: no model found: looked for {LOOKED_FOR}; name one with {plan.display_path}:ATTR"
    )


# -- explicit ATTR ---------------------------------------------------------------------------


def model_from_attr(module: types.ModuleType, plan: ImportPlan, attr: str) -> nn.Module:
    """Resolve ``path:attr``: an instance is used as is, a class or a factory is called without arguments."""
    value = _resolve(module, plan, attr)
    target = f"{plan.display_path}:{attr}"
    if isinstance(value, nn.Module):
        return value
    if inspect.isclass(value) and issubclass(value, nn.Module):
        _require_no_arguments(value, target, "the class")
        return _build(value, plan, attr)
    if callable(value) and not inspect.isclass(value):
        _require_no_arguments(value, target, "the factory")
        return _build(value, plan, attr)
    raise LoadError(f"{target} is {_kind(value)}, not an nn.Module, a model class or a factory")


def _resolve(module: types.ModuleType, plan: ImportPlan, attr: str) -> Any:
    value: Any = module
    for depth, part in enumerate(attr.split(".")):
        if not hasattr(value, part):
            where = "the file" if depth == 0 else ".".join(attr.split(".")[:depth])
            raise LoadError(f"{plan.display_path}: no attribute {attr!r} in {where}; {_candidates_text(module)}")
        value = getattr(value, part)
    return value


def _candidates_text(module: types.ModuleType) -> str:
    names = [name for name, _ in _module_candidates(module)]
    if not names:
        return "the file defines no nn.Module instance, nn.Module class or factory " + "/".join(FACTORY_NAMES)
    return "models here: " + ", ".join(names)


def _module_candidates(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        if (
            isinstance(value, nn.Module)
            or _is_own_module_class(value, module)
            or name in FACTORY_NAMES
            and callable(value)
        ):
            yield name, value


def _kind(value: Any) -> str:
    if inspect.isclass(value):
        return f"the class {value.__name__}"
    if isinstance(value, types.ModuleType):
        return f"the module {value.__name__}"
    article = "an" if type(value).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(value).__name__}"


def _require_no_arguments(func: Callable[..., Any], target: str, what: str) -> None:
    required = _required_parameters(func)
    if required:
        raise LoadError(
            f"{target}: {what} needs arguments ({', '.join(required)}); give them defaults, "
            "or add a zero-argument factory such as build_model() and name it with PATH:build_model"
        )


def _required_parameters(func: Callable[..., Any]) -> list[str] | None:
    """Names of required parameters; ``None`` when the signature cannot be read (try the call)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    return [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _build(func: Callable[..., Any], plan: ImportPlan, attr: str) -> nn.Module:
    """Call a class or factory without arguments; ``LoadError`` when it raises or returns no module."""
    target = f"{plan.display_path}:{attr}"
    try:
        model = func()
    except (Exception, SystemExit) as exc:
        raise LoadError(f"{target}: building the model raised {describe_exception(exc, plan)}") from exc
    if not isinstance(model, nn.Module):
        raise LoadError(f"{target} returned {_kind(model)}, not an nn.Module")
    return model


# -- discovery levels ------------------------------------------------------------------------


def _instances(module: types.ModuleType, tree: ast.Module, plan: ImportPlan) -> list[FoundModel]:
    imported = _imported_names(tree)
    found: list[FoundModel] = []
    seen: set[int] = set()
    for name, value in vars(module).items():
        if isinstance(value, nn.Module) and name not in imported and id(value) not in seen and _has_parameters(value):
            seen.add(id(value))
            found.append(FoundModel(name, value))
    return _drop_nested_instances(found)


def _drop_nested_instances(found: list[FoundModel]) -> list[FoundModel]:
    inner = {id(sub) for item in found for sub in item.model.modules() if sub is not item.model}
    return [item for item in found if id(item.model) not in inner]


def _factory(module: types.ModuleType, tree: ast.Module, plan: ImportPlan) -> list[FoundModel]:
    for name in FACTORY_NAMES:
        value = getattr(module, name, None)
        if inspect.isfunction(value) and value.__module__ == module.__name__ and not _required_parameters(value):
            return [FoundModel(name, _build(value, plan, name))]
    return []


def _classes(module: types.ModuleType, tree: ast.Module, plan: ImportPlan) -> list[FoundModel]:
    found: list[FoundModel] = []
    seen: set[type] = set()
    for name, value in vars(module).items():
        if _is_own_module_class(value, module) and value not in seen and _required_parameters(value) == []:
            seen.add(value)  # an alias (Model = Net) is the same model
            model = _build(value, plan, name)
            if _has_parameters(model):
                found.append(FoundModel(name, model))
    # A class used inside another candidate is a building block (a Block inside Net), not a model.
    inner = {type(sub) for item in found for sub in item.model.modules() if sub is not item.model}
    return [item for item in found if type(item.model) not in inner]


def _is_own_module_class(value: Any, module: types.ModuleType) -> bool:
    return inspect.isclass(value) and issubclass(value, nn.Module) and value.__module__ == module.__name__


def _has_parameters(model: nn.Module) -> bool:
    return any(True for _ in model.parameters())


def _imported_names(tree: ast.Module) -> set[str]:
    """Names bound at module level by import statements (``from shared import backbone``)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names
