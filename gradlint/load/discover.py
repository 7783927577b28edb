"""Find the model(s) in an imported file: a named ``ATTR``, or discovery.

Discovery, first level that finds something wins:

1. module-level ``nn.Module`` instances (not imported ones, not submodules of another one);
2. the first of the factories ``build_model``, ``get_model``, ``make_model``, ``model``
   defined in the file and callable without arguments;
3. what the file defines that builds without the user's help (see ``recipes``): ``nn.Module``
   subclasses constructible without arguments or from default config objects
   (``GPT(GPTConfig())``), and model factories such as ``def ResNet18(): return ResNet(...)``,
   except building blocks used inside another model found.

Levels 1 and 3 leave out modules without parameters (a loss such as
``criterion = nn.CrossEntropyLoss()``, an activation class): they cannot have
gradient problems and are not models. When nothing is found, the error lists every class
and factory seen with why it was skipped, and a command to paste.
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
from gradlint.load.importer import ImportPlan, describe_exception, user_code_environment, what_failed
from gradlint.load.recipes import (
    Recipe,
    Skipped,
    building_blocks,
    is_own_module_class,
    required_parameters,
    suggestion,
    survey,
)
from gradlint.load.targets import FACTORY_NAMES, is_name

LOOKED_FOR = (
    "module-level nn.Module instances, factories " + "/".join(FACTORY_NAMES) + ", "
    "and nn.Module subclasses defined here constructible without arguments"
)


@dataclass(frozen=True)
class FoundModel:
    """A model and the attribute or expression that gives it again (``path.py:attr``)."""

    attr: str
    model: nn.Module
    built: str | None = None
    """How the model was built, for the report: ``GPT(GPTConfig(n_layer=4))``, ``build_model()``;
    None for a module-level instance, which the file built itself."""
    rebuild: Callable[[], nn.Module] | None = None
    """Calls the class or factory again (None for an instance): the probe's fresh copy when deepcopy cannot serve."""


def find_models(
    module: types.ModuleType, tree: ast.Module, plan: ImportPlan, attr: str | None, *, quiet: bool
) -> list[FoundModel]:
    """The model named by ``attr``, or every model discovery finds.

    ``tree`` is the file's syntax tree (to tell names the file imports from names it
    defines). With ``quiet`` (directory mode) a file without a model gives ``[]``;
    otherwise ``LoadError`` lists what was looked for.
    """
    if attr is not None:
        model, built, rebuild = model_from_target(module, plan, attr)
        return [FoundModel(attr, model, built, rebuild)]
    for level in (_instances, _factory):
        found = level(module, tree, plan)
        if found:
            return found
    recipes, skipped = survey(module, tree)
    found = _from_recipes(recipes, skipped, plan, building_blocks(tree))
    if found or quiet:
        return found
    raise LoadError(_no_model_message(plan, skipped, tree))


def _no_model_message(plan: ImportPlan, skipped: list[Skipped], tree: ast.Module) -> str:
    path = plan.display_path
    if not skipped:
        return f"{path}: no model found: looked for {LOOKED_FOR}; name one with {path}:ATTR"
    seen = "; ".join(f"{item.name} {item.reason}" for item in skipped)
    pick = suggestion(skipped, tree)
    if pick is None:
        return f"{path}: no model found: {seen}; name one with {path}:EXPR"
    arguments = ", ".join(f"{name}=..." for name in pick.required)
    return f"{path}: no model found: {seen}; name one with its arguments: gradlint '{path}:{pick.name}({arguments})'"


# -- explicit ATTR ---------------------------------------------------------------------------


def model_from_target(
    module: types.ModuleType, plan: ImportPlan, attr: str
) -> tuple[nn.Module, str | None, Callable[[], nn.Module] | None]:
    """The model ``path:EXPR`` names, how it was built (None: a module-level instance used as is), and
    how to build it again (``FoundModel.rebuild``; None for a value that is not a class or a factory).

    A dotted name is looked up; any other expression is evaluated in (a copy of) the module's
    namespace. A class or a factory, named or produced by the expression, is then called
    without arguments.
    """
    value = _resolve(module, plan, attr) if is_name(attr) else _evaluate(module, plan, attr)
    target = f"{plan.display_path}:{attr}"
    if isinstance(value, nn.Module):
        # An expression may hand back a module that already exists (``models['a']``): calling it again
        # would not make a fresh copy, so only a class or a factory is rebuilt.
        return value, None if is_name(attr) else attr, None
    if inspect.isclass(value) and issubclass(value, nn.Module):
        _require_no_arguments(value, target, "the class")
    elif callable(value) and not inspect.isclass(value):
        _require_no_arguments(value, target, "the factory")
    else:
        raise LoadError(f"{target} is {_kind(value)}, not an nn.Module, a model class or a factory")
    return _build(value, plan, attr), f"{attr}()", _rebuilder(value, plan, attr)


def _evaluate(module: types.ModuleType, plan: ImportPlan, expression: str) -> Any:
    """``eval`` of a target expression in the file's namespace; ``LoadError`` naming what it raised."""
    target = f"{plan.display_path}:{expression}"
    try:
        code = compile(expression.strip(), "<target expression>", "eval")
    except SyntaxError as exc:
        raise LoadError(f"{target}: bad model expression: {exc.msg}") from None
    try:
        # A copy, so an assignment expression cannot add names to the user's module.
        return eval(code, dict(vars(module)))  # noqa: S307 - evaluating the user's expression is the feature
    except (Exception, SystemExit) as exc:
        raise LoadError(f"{target}: {what_failed('building the model', exc, plan)}") from exc


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
            or is_own_module_class(value, module)
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
    required = required_parameters(func)
    if required:
        path, _, attr = target.rpartition(":")
        call = f"{attr}({', '.join(f'{name}=...' for name in required)})"
        raise LoadError(
            f"{target}: {what} needs arguments ({', '.join(required)}); "
            f"give them in the target: gradlint '{path}:{call}'"
        )


def _build(func: Callable[..., Any], plan: ImportPlan, attr: str) -> nn.Module:
    """Call a class or factory without arguments; ``LoadError`` when it raises or returns no module."""
    target = f"{plan.display_path}:{attr}"
    try:
        model = func()
    except (Exception, SystemExit) as exc:
        raise LoadError(f"{target}: {what_failed('building the model', exc, plan)}") from exc
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
        if inspect.isfunction(value) and value.__module__ == module.__name__ and not required_parameters(value):
            return [FoundModel(name, _build(value, plan, name), f"{name}()", _rebuilder(value, plan, name))]
    return []


def _from_recipes(
    recipes: list[Recipe], skipped: list[Skipped], plan: ImportPlan, blocks: set[str]
) -> list[FoundModel]:
    built: list[tuple[Recipe, nn.Module]] = []
    for recipe in recipes:
        if not recipe.guessed and recipe.name not in blocks:
            model = _build(recipe.build, plan, recipe.name)  # a model class meant to build alone: its error is theirs
        else:
            model, failure = _try_guess(recipe, plan)
            if model is None:
                skipped.append(Skipped(recipe.name, failure, recipe.required, is_class=recipe.is_class))
                continue
        if _has_parameters(model):
            built.append((recipe, model))
        else:
            skipped.append(Skipped(recipe.name, "has no parameters", is_class=recipe.is_class))
    # A factory of a class that builds with no argument adds nothing; a class used inside another
    # candidate is a building block (a Block inside Net), not a model.
    plain = {type(model) for recipe, model in built if recipe.is_class and not recipe.guessed}
    kept = [(r, m) for r, m in built if r.is_class or type(m) not in plain]
    inner = {type(sub) for _, model in kept for sub in model.modules() if sub is not model}
    return [
        FoundModel(
            recipe.name if recipe.expression == f"{recipe.name}()" else recipe.expression,
            model,
            recipe.expression,
            _rebuilder(recipe.build, plan, recipe.name),
        )
        for recipe, model in kept
        if type(model) not in inner
    ]


def _rebuilder(func: Callable[..., Any], plan: ImportPlan, attr: str) -> Callable[[], nn.Module]:
    def rebuild() -> nn.Module:
        with user_code_environment(plan):
            return _build(func, plan, attr)

    return rebuild


def _try_guess(recipe: Recipe, plan: ImportPlan) -> tuple[nn.Module | None, str]:
    """Build a guessed recipe or a building block; on failure, None and why (skipped, not an error)."""
    try:
        model = recipe.build()
    except (Exception, SystemExit) as exc:
        return None, f"failed as {recipe.expression}: raised {describe_exception(exc, plan)}"
    if not isinstance(model, nn.Module):
        return None, f"failed as {recipe.expression}: returned {_kind(model)}"
    return model, ""


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
