"""How discovery may build what a file defines, decided before anything is called.

A *recipe* is a way to build one model from the file's own names, with the expression that
says it (``Net()``, ``ResNet18()``, ``GPT(GPTConfig())``); what cannot be built is *skipped*
with the reason, so that "no model found" can say what it saw. Three kinds:

- an ``nn.Module`` subclass defined in the file whose constructor needs no argument;
- one whose required parameters are all config objects that build with no argument: a parameter
  annotated with such a class (a dataclass, or a class named ``...Config``/``...Args``/``...Cfg``),
  or an unannotated ``config``/``cfg``/``args`` when the file defines exactly one such class
  (nanoGPT's ``GPT(config)`` beside ``GPTConfig``);
- a model factory: a function defined in the file, callable without arguments, whose every
  ``return`` gives a call of an ``nn.Module`` class (``def ResNet18(): return ResNet(...)``), read
  from its syntax tree, so that ``main()`` or ``train()`` is never called to find out.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

#: Unannotated parameter names that stand for the file's one config class.
CONFIG_PARAMETERS = ("config", "cfg", "args")

# Functions that run a program rather than build a model, whatever they return.
_NOT_FACTORIES = frozenset({"main", "train", "test", "run", "evaluate", "cli"})
_CONFIG_NAME = re.compile(r"(Config|Configs|Cfg|Args|Arguments)$")


@dataclass(frozen=True)
class Recipe:
    """One way to build a model from the file."""

    name: str
    """The class or factory as the file names it."""
    expression: str
    """What builds it, in the target expression syntax: ``Net()``, ``ResNet18()``, ``GPT(GPTConfig())``."""
    build: Callable[[], Any]
    guessed: bool
    """True when the arguments (default configs) or the factory were guessed: a failure skips it."""
    is_class: bool = True
    required: tuple[str, ...] = ()
    """The required parameters the guess filled in (for a command to paste when it fails)."""


@dataclass(frozen=True)
class Skipped:
    """A class or factory discovery saw and did not build (or whose build was left out)."""

    name: str
    reason: str
    """``needs n_channels, n_classes``, ``GPT(GPTConfig()) raised ...``, ``has no parameters``."""
    required: tuple[str, ...] = ()
    is_class: bool = True


def survey(module: types.ModuleType, tree: ast.Module) -> tuple[list[Recipe], list[Skipped]]:
    """Recipes for the file's classes and model factories, in the file's order, and what cannot be built."""
    recipes: list[Recipe] = []
    skipped: list[Skipped] = []
    config = _file_config(module)
    factories = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    seen: set[int] = set()
    for name, value in vars(module).items():
        if id(value) in seen:
            continue  # an alias (Model = Net) is the same model
        if is_own_module_class(value, module):
            seen.add(id(value))
            _class_recipe(name, value, module, config, recipes, skipped)
        elif name in factories and inspect.isfunction(value) and value.__module__ == module.__name__:
            seen.add(id(value))
            _factory_recipe(name, value, factories[name], module, recipes, skipped)
    return recipes, skipped


def is_own_module_class(value: Any, module: types.ModuleType) -> bool:
    return inspect.isclass(value) and issubclass(value, nn.Module) and value.__module__ == module.__name__


def required_parameters(func: Callable[..., Any]) -> list[str] | None:
    """Names of required parameters; ``None`` when the signature cannot be read (try the call)."""
    parameters = _signature_parameters(func)
    if parameters is None:
        return None
    return [p.name for p in parameters if _required(p)]


def _signature_parameters(func: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None


def _required(parameter: inspect.Parameter) -> bool:
    return parameter.default is inspect.Parameter.empty and parameter.kind not in (
        parameter.VAR_POSITIONAL,
        parameter.VAR_KEYWORD,
    )


# -- classes -----------------------------------------------------------------------------------


def _class_recipe(
    name: str,
    cls: type,
    module: types.ModuleType,
    config: type | None,
    recipes: list[Recipe],
    skipped: list[Skipped],
) -> None:
    parameters = _signature_parameters(cls)
    if parameters is None:
        return  # a signature that cannot be read is nothing to guess arguments for
    required = [p for p in parameters if _required(p)]
    if not required:
        recipes.append(Recipe(name, f"{name}()", cls, guessed=False))
        return
    configs = {p.name: _config_for(p, module, config) for p in required}
    missing = tuple(p.name for p in required)
    if any(value is None for value in configs.values()):
        skipped.append(Skipped(name, "needs " + ", ".join(missing), missing))
        return
    chosen = {key: value for key, value in configs.items() if value is not None}
    expression = _config_expression(name, required, chosen)
    recipes.append(Recipe(name, expression, _config_build(cls, chosen), guessed=True, required=missing))


def _config_expression(name: str, required: list[inspect.Parameter], configs: dict[str, type]) -> str:
    if len(required) == 1 and required[0].kind is not inspect.Parameter.KEYWORD_ONLY:
        return f"{name}({configs[required[0].name].__name__}())"
    return f"{name}(" + ", ".join(f"{key}={cfg.__name__}()" for key, cfg in configs.items()) + ")"


def _config_build(cls: type, configs: dict[str, type]) -> Callable[[], Any]:
    def build() -> Any:
        return cls(**{key: cfg() for key, cfg in configs.items()})

    return build


def _config_for(parameter: inspect.Parameter, module: types.ModuleType, config: type | None) -> type | None:
    """The config class that builds this parameter's value with no argument, or None."""
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return config if parameter.name in CONFIG_PARAMETERS else None
    if isinstance(annotation, str):  # ``from __future__ import annotations``: a name to look up, not to evaluate
        annotation = _lookup(module, annotation.strip().strip("'\""))
    if not inspect.isclass(annotation) or getattr(module, annotation.__name__, None) is not annotation:
        return None  # the expression must be able to name it in the file's namespace
    return annotation if _is_default_config(annotation) else None


def _file_config(module: types.ModuleType) -> type | None:
    """The file's one all-default config class, or None when it defines none or several."""
    found = {
        id(value): value
        for value in vars(module).values()
        if inspect.isclass(value) and value.__module__ == module.__name__ and _is_default_config(value)
    }
    return next(iter(found.values())) if len(found) == 1 else None


def _is_default_config(cls: type) -> bool:
    if issubclass(cls, nn.Module) or not (dataclasses.is_dataclass(cls) or _CONFIG_NAME.search(cls.__name__)):
        return False
    return required_parameters(cls) == []


def _lookup(module: types.ModuleType, dotted: str) -> Any:
    value: Any = module
    for part in dotted.split("."):
        if not part.isidentifier() or not hasattr(value, part):
            return None
        value = getattr(value, part)
    return value


# -- factories ---------------------------------------------------------------------------------


def _factory_recipe(
    name: str,
    func: Callable[..., Any],
    node: ast.FunctionDef,
    module: types.ModuleType,
    recipes: list[Recipe],
    skipped: list[Skipped],
) -> None:
    if name in _NOT_FACTORIES or name.startswith("_") or not _returns_model(node, module):
        return
    required = tuple(required_parameters(func) or ())
    if required:
        skipped.append(Skipped(name, "needs " + ", ".join(required), required, is_class=False))
    else:
        recipes.append(Recipe(name, f"{name}()", func, guessed=True, is_class=False))


def _returns_model(node: ast.FunctionDef, module: types.ModuleType) -> bool:
    """Whether every ``return`` of the function gives a call of an ``nn.Module`` class (directly or by a name)."""
    assigned: dict[str, ast.expr] = {}
    returns: list[ast.expr | None] = []
    for child in _own_nodes(node):
        if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name):
            assigned[child.targets[0].id] = child.value
        elif isinstance(child, ast.Return):
            returns.append(child.value)
    if not returns:
        return False
    for value in returns:
        if isinstance(value, ast.Name):
            value = assigned.get(value.id)
        if not (isinstance(value, ast.Call) and _is_module_class(_lookup(module, _dotted(value.func)))):
            return False
    return True


def _own_nodes(node: ast.FunctionDef) -> Iterator[ast.AST]:
    """The function's nodes, without those of functions and classes nested in it."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield current
        stack.extend(ast.iter_child_nodes(current))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _is_module_class(value: Any) -> bool:
    return inspect.isclass(value) and issubclass(value, nn.Module)


# -- "no model found" ------------------------------------------------------------------------------


def building_blocks(tree: ast.Module) -> set[str]:
    """Names of the file's classes that another class of the file uses (a ``DoubleConv`` inside ``UNet``)."""
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    names = {node.name for node in classes}
    used: set[str] = set()
    for node in classes:
        inner = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
        }
        used |= (inner & names) - {node.name}
    return used


def suggestion(skipped: list[Skipped], tree: ast.Module) -> Skipped | None:
    """What to name in a ready-to-paste command: the last class that needs arguments and is no building block."""
    blocks = building_blocks(tree)
    needing = [item for item in skipped if item.required]
    for group in (
        [i for i in needing if i.is_class and i.name not in blocks],
        [i for i in needing if not i.is_class],
        needing,
    ):
        if group:
            return group[-1]
    return None
