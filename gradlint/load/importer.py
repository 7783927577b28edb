"""Import a user's model file the way ``python file.py`` would, minus the ``__main__`` block.

* Never under the name ``__main__``, so ``if __name__ == "__main__":`` blocks do not run.
* A file inside a package (its directory has ``__init__.py``, or the file has relative
  imports: its folders are then namespace packages) is imported by its dotted name with
  the package root's parent on ``sys.path``, so relative imports work, and its own
  directory after it, so absolute imports of its neighbours work too. Any other file gets
  a synthetic name, ``gradlint_target_<stem>_<hash>``, with its own directory on
  ``sys.path`` so sibling imports work.
* Every load re-executes the file: loading it twice gives two independent modules.
  Sibling modules it imports by absolute name are re-imported too, so two projects
  that both have a ``utils.py`` do not see each other's.
* While the user's code runs (import, construction, ``example_inputs()``): ``sys.argv``
  is ``[file]``, ``print`` goes to stderr (stdout carries findings), no ``__pycache__`` is
  written, the torch RNG is seeded with 0 (the same model on every run) and restored
  afterwards, as are torch's default dtype, grad mode and ``sys.path``.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
import sysconfig
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from gradlint import causes
from gradlint.errors import LoadError
from gradlint.load.targets import check_file, imported_modules

_GRADLINT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple(
    sorted(
        {
            os.path.realpath(os.path.dirname(torch.__file__)) + os.sep,
            os.path.realpath(_GRADLINT_DIR) + os.sep,
            *(
                os.path.realpath(sysconfig.get_paths()[key]) + os.sep
                for key in ("stdlib", "platstdlib", "purelib", "platlib")
            ),
        }
    )
)

# Module names this importer registered itself: those may be replaced on a reload;
# anything else already in sys.modules under the same name is put back afterwards.
_OWN_MODULE_NAMES: set[str] = set()

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class ImportPlan:
    """How one file will be imported."""

    display_path: str
    """The path as the user wrote it."""
    abs_path: str
    module_name: str
    sys_path_entry: str
    """The directory put first on ``sys.path``: the file's own, or the package root's parent."""
    package: bool
    """True when imported by dotted package name."""

    @property
    def own_directory(self) -> str:
        """The file's folder, also on ``sys.path`` for a package file: scripts inside packages often import
        their neighbours by absolute name (``from unet_parts import *``)."""
        return os.path.dirname(self.abs_path)


def plan_import(path: str) -> ImportPlan:
    """Decide the module name and ``sys.path`` entry for ``path``; ``LoadError`` if it is not a Python file."""
    check_file(path)
    abs_path = os.path.realpath(path)
    directory, filename = os.path.split(abs_path)
    stem = filename[: -len(".py")]
    package_parts: list[str] = []
    root = directory
    # A file with relative imports (``from .unet_parts import *``) is part of its folder's package even
    # without an ``__init__.py``: the folders it reaches up through are imported as namespace packages.
    levels = _relative_import_levels(abs_path)
    while os.path.basename(root).isidentifier() and (
        os.path.isfile(os.path.join(root, "__init__.py")) or len(package_parts) < levels
    ):
        package_parts.insert(0, os.path.basename(root))
        root = os.path.dirname(root)
    if package_parts and stem.isidentifier():
        parts = package_parts if stem == "__init__" else [*package_parts, stem]
        return ImportPlan(path, abs_path, ".".join(parts), root, package=True)
    digest = hashlib.sha1(abs_path.encode()).hexdigest()[:8]
    safe_stem = "".join(c if c.isalnum() else "_" for c in stem)
    return ImportPlan(path, abs_path, f"gradlint_target_{safe_stem}_{digest}", directory, package=False)


def _relative_import_levels(abs_path: str) -> int:
    """How many package levels the file's relative imports reach (``from ..x import y``: 2); 0 for none."""
    try:
        with open(abs_path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return 0  # a syntax error is reported when the file is imported
    return max((node.level for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)), default=0)


def plan_for_module(module: types.ModuleType) -> ImportPlan:
    """An ``ImportPlan`` describing an already imported module, for messages about its file."""
    abs_path = os.path.realpath(getattr(module, "__file__", None) or module.__name__)
    return ImportPlan(_relative(abs_path), abs_path, module.__name__, os.path.dirname(abs_path), package=False)


@contextlib.contextmanager
def user_code_environment(plan: ImportPlan) -> Iterator[None]:
    """The process state the user's code runs in; everything is restored on exit."""
    saved_argv = sys.argv
    saved_bytecode = sys.dont_write_bytecode
    saved_dtype = torch.get_default_dtype()
    saved_grad = torch.is_grad_enabled()
    entries = list(dict.fromkeys([plan.sys_path_entry, plan.own_directory]))
    sys.path[:0] = entries
    sys.argv = [plan.abs_path]
    sys.dont_write_bytecode = True  # a linter must not litter the user's tree with __pycache__
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(sys.stderr):
            torch.manual_seed(0)
            yield
    finally:
        sys.argv = saved_argv
        sys.dont_write_bytecode = saved_bytecode
        torch.set_default_dtype(saved_dtype)
        torch.set_grad_enabled(saved_grad)
        for entry in entries:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


@dataclass(frozen=True)
class ImportedFile:
    module: types.ModuleType
    tree: ast.Module
    """The file's syntax tree, to tell the names it imports from the names it defines."""


def import_file(plan: ImportPlan) -> ImportedFile:
    """Execute the file as a fresh module; call inside ``user_code_environment``.

    Raises ``LoadError`` (one line) for a syntax error, an exception or ``sys.exit`` at import.
    """
    importlib.invalidate_caches()  # the file or its siblings may have been written a moment ago
    tree = _parse(plan)
    _evict_stale_siblings(plan, tree)
    try:
        module = _import_package_module(plan) if plan.package else _import_synthetic(plan)
        return ImportedFile(module, tree)
    except LoadError:
        raise
    except SyntaxError as exc:
        raise LoadError(_syntax_message(plan, exc)) from exc
    except SystemExit as exc:
        where = _location_suffix(exc, plan)
        raise LoadError(
            f"{plan.display_path}: importing it called sys.exit({exc.code!r}){where}; "
            'move that code under if __name__ == "__main__":'
        ) from exc
    except Exception as exc:
        raise LoadError(f"{plan.display_path}: {what_failed('importing it', exc, plan)}") from exc


def _parse(plan: ImportPlan) -> ast.Module:
    # Parse first so that a syntax error in the file itself is reported as such even
    # when it is in a package whose __init__ would fail for another reason.
    try:
        with open(plan.abs_path, "rb") as handle:
            return ast.parse(handle.read(), filename=plan.abs_path)
    except SyntaxError as exc:
        raise LoadError(_syntax_message(plan, exc)) from exc
    except ValueError as exc:  # e.g. null bytes on older Pythons
        raise LoadError(f"{plan.display_path}: syntax error: {_one_line(str(exc))}") from exc


def _syntax_message(plan: ImportPlan, exc: SyntaxError) -> str:
    msg = _one_line(exc.msg or str(exc))
    if exc.filename and os.path.realpath(exc.filename) == plan.abs_path:
        return f"{plan.display_path}:{exc.lineno or 1}: syntax error: {msg}"
    other = display_path(exc.filename or "?", plan)
    return f"{plan.display_path}: importing it raised SyntaxError: {msg} (at {other}:{exc.lineno or 1})"


def _import_synthetic(plan: ImportPlan) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(plan.module_name, plan.abs_path)
    if spec is None or spec.loader is None:
        raise LoadError(f"{plan.display_path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as the import system does: dataclasses, pickling and
    # typing look the module up by name while its body executes.
    sys.modules[plan.module_name] = module
    _OWN_MODULE_NAMES.add(plan.module_name)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(plan.module_name, None)
        raise
    return module


def _import_package_module(plan: ImportPlan) -> types.ModuleType:
    name = plan.module_name
    previous = sys.modules.pop(name, None)  # force a fresh execution of the file
    try:
        module = importlib.import_module(name)
    except BaseException:
        _restore(name, previous)
        raise
    if previous is not None and name not in _OWN_MODULE_NAMES:
        # Someone else imported this module (the user's own code, or gradlint itself when
        # linting its own tree): give them back the module object they had.
        _restore(name, previous)
    else:
        _OWN_MODULE_NAMES.add(name)
    return module


def _restore(name: str, previous: types.ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
        return
    sys.modules[name] = previous
    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is not None:
        setattr(parent, child, previous)


def _evict_stale_siblings(plan: ImportPlan, tree: ast.Module) -> None:
    """Drop cached modules that would shadow the ones this file imports from its own tree.

    ``import utils`` next to the file must get that ``utils.py``, not one cached from
    another project (or from this one, for a fresh reload). For a package file the
    same holds for the package itself. Installed and standard-library modules are
    never evicted; a package named like one of them is an error.
    """
    package_top = plan.module_name.split(".")[0] if plan.package else None
    if package_top is not None:
        _evict_foreign_namespace(package_top, os.path.join(plan.sys_path_entry, package_top))
    names = {name.split(".")[0] for name in imported_modules(tree)} | ({package_top} if package_top else set())
    for top in sorted(names):
        own_file = _sibling_file(plan.sys_path_entry, top)
        cached = sys.modules.get(top)
        if own_file is None or cached is None or (top == package_top and _module_file(cached) == own_file):
            continue  # nothing cached, or the same package already imported: only the target is re-run
        if not _is_library_module(cached):
            for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                del sys.modules[name]
        elif top == package_top:
            raise LoadError(
                f"{plan.display_path}: cannot import it as {plan.module_name}: the package name {top!r} is taken "
                f"by the already imported {_module_file(cached) or 'built-in module'}; rename the package"
            )


def _evict_foreign_namespace(top: str, directory: str) -> None:
    """Drop a cached namespace package ``top`` (a folder without ``__init__.py``) that lives elsewhere."""
    cached = sys.modules.get(top)
    if cached is None or getattr(cached, "__file__", None) is not None or not hasattr(cached, "__path__"):
        return
    if os.path.realpath(directory) in {os.path.realpath(p) for p in cached.__path__}:
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _sibling_file(directory: str, name: str) -> str | None:
    for candidate in (os.path.join(directory, name, "__init__.py"), os.path.join(directory, name + ".py")):
        if os.path.isfile(candidate):
            return os.path.realpath(candidate)
    return None


def _module_file(module: types.ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    return os.path.realpath(file) if file else None


def _is_library_module(module: types.ModuleType) -> bool:
    file = _module_file(module)
    return file is None or is_library_file(file)


def is_library_file(filename: str) -> bool:
    """Whether a code file belongs to torch, gradlint, the standard library or an installed package."""
    if filename.startswith("<"):
        return True
    return os.path.realpath(filename).startswith(_LIBRARY_DIRS)


# -- one-line exception descriptions ------------------------------------------------------


def what_failed(action: str, exc: BaseException, plan: ImportPlan) -> str:
    """``importing it raised ValueError: ...``, or the real cause when it has its own message (see ``causes``)."""
    if causes.torchvision_mismatch(exc):
        return f"{action} failed: {causes.TORCHVISION_MISMATCH}{_location_suffix(exc, plan)}"
    if causes.cuda_missing(exc):
        return f"{action} failed: it {causes.CUDA_MISSING} ({describe_exception(exc, plan)})"
    return f"{action} raised {describe_exception(exc, plan)}"


def describe_exception(exc: BaseException, plan: ImportPlan) -> str:
    """``ValueError: msg (at path:line)``: the exception on one line, located in the user's code."""
    text = _one_line(str(exc))
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return head + _location_suffix(exc, plan)


def _location_suffix(exc: BaseException, plan: ImportPlan) -> str:
    location = user_frame_location(exc, plan)
    return f" (at {location})" if location else ""


def user_frame_location(exc: BaseException, plan: ImportPlan) -> str | None:
    """``path:line`` of the deepest traceback frame in the target file, else in any non-library file."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_target = [f for f in frames if f.filename and os.path.realpath(f.filename) == plan.abs_path]
    if in_target:
        return f"{plan.display_path}:{in_target[-1].lineno}"
    in_user = [f for f in frames if f.filename and not is_library_file(f.filename)]
    if in_user:
        return f"{display_path(in_user[-1].filename, plan)}:{in_user[-1].lineno}"
    return None


def display_path(filename: str, plan: ImportPlan) -> str:
    """The target as the user wrote it, other files relative to the working directory when inside it."""
    real = os.path.realpath(filename)
    return plan.display_path if real == plan.abs_path else _relative(real)


def _relative(real: str) -> str:
    try:
        relative = os.path.relpath(real)
    except ValueError:  # another drive on Windows
        return real
    return real if relative.startswith("..") else relative


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."
