"""Paths as CI systems want them: relative to the repository root, with ``/`` separators.

GitHub code scanning and workflow annotations resolve a file against the checkout, so a
finding must name ``models/mlp.py``, not ``/home/runner/work/x/x/models/mlp.py`` and not a
path relative to whatever folder gradlint happened to run in.
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root(start: str | os.PathLike[str] | None = None) -> str:
    """The closest folder at or above ``start`` (default: the working directory) holding ``.git``.

    ``$GITHUB_WORKSPACE`` is used when it contains ``start`` and no ``.git`` is found (a
    checkout without history); otherwise the working directory itself.
    """
    here = Path(os.path.abspath(start if start is not None else os.getcwd()))
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and here.is_relative_to(os.path.abspath(workspace)):
        return os.path.abspath(workspace)
    return str(here)


def repo_relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators, or None when it lies outside ``root``."""
    if not path or path.startswith("<"):
        return None
    absolute = Path(os.path.abspath(path))
    for candidate, base in ((absolute, Path(root)), (absolute.resolve(), Path(root).resolve())):
        if candidate.is_relative_to(base):
            return candidate.relative_to(base).as_posix()
    return None
