"""Which files are the user's code, as opposed to torch, gradlint or the standard library."""

from __future__ import annotations

import os

import torch

_LIBRARY_DIRS = (
    os.path.dirname(torch.__file__) + os.sep,
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.__file__) + os.sep,
)


def is_library_file(path: str) -> bool:
    """True for torch, gradlint, the stdlib and pseudo-files like ``<string>``: never a place to point a finding at."""
    return path.startswith(_LIBRARY_DIRS) or path.startswith("<")
