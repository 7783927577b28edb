"""Map tracebacks and stack traces back to the user's source lines."""

from __future__ import annotations

import os
import re
import sysconfig

from gradlint.sources import is_library_file
from gradlint.types import SourceLocation

_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')


def user_frame(stack_trace: str | None, *, installed: bool = True) -> SourceLocation | None:
    """The innermost frame of a formatted stack trace that is not in torch, gradlint or the stdlib.

    ``installed=False`` also passes over installed packages (site-packages: einops, transformers), so a
    failure is pointed at the line of the user's own file that called into them.
    """
    if not stack_trace:
        return None
    found: SourceLocation | None = None
    for match in _FRAME.finditer(stack_trace):
        path = match["path"]
        if not is_library_file(path) and (installed or not _installed(path)):
            found = SourceLocation(os.path.abspath(path), int(match["line"]))
    return found


_INSTALLED_DIRS = tuple({os.path.realpath(sysconfig.get_paths()[key]) + os.sep for key in ("purelib", "platlib")})


def _installed(path: str) -> bool:
    return os.path.realpath(path).startswith(_INSTALLED_DIRS) or f"{os.sep}site-packages{os.sep}" in path


def innermost_user_frame(tb: object) -> SourceLocation | None:
    """The deepest traceback entry in user code, for errors raised while running the model."""
    found: SourceLocation | None = None
    while tb is not None:
        frame = tb.tb_frame  # type: ignore[attr-defined]
        path = frame.f_code.co_filename
        if not is_library_file(path):
            found = SourceLocation(os.path.abspath(path), tb.tb_lineno)  # type: ignore[attr-defined]
        tb = tb.tb_next  # type: ignore[attr-defined]
    return found
