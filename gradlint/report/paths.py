"""How file paths are shown in every output format."""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> str:
    """``path`` relative to ``cwd`` (default: the working directory) when it lies under it, else absolute.

    Pseudo-paths such as ``<string>`` or ``<stdin>`` come back unchanged. Symlinks are resolved only
    when the plain comparison fails, so a path under a symlinked working directory still shows relative.
    """
    text = os.fspath(path)
    if not text or text.startswith("<"):
        return text
    try:
        base = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    except FileNotFoundError:  # the working directory was deleted
        return text
    absolute = Path(os.path.abspath(base / text))
    for candidate, root in ((absolute, base), (absolute.resolve(), base.resolve())):
        if candidate.is_relative_to(root):
            return str(candidate.relative_to(root))
    return str(absolute)
