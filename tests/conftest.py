from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _define_torchvision_operator_schemas() -> torch.library.Library | None:
    """Let the registry's torchvision (a CUDA build) import beside the CPU torch: test-only, never in the package.

    torchvision registers ``torchvision::nms``/``qnms`` kernels from Python, which fails when their
    schemas were not defined by its (CUDA-only) C++ extension; transformers imports torchvision
    lazily, so this runs before any test.
    """
    if importlib.util.find_spec("torchvision") is None or _torchvision_imports_as_it_is():
        return None  # defining the schemas beside a working extension would make it abort on load
    library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in (
        "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
        "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    ):
        with contextlib.suppress(RuntimeError):  # already defined: a working torchvision build
            library.define(schema)
    return library


def _torchvision_imports_as_it_is() -> bool:
    """Whether torchvision imports in a fresh interpreter (a build that matches torch, as on a GPU machine)."""
    done = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, timeout=300)
    return done.returncode == 0


_TORCHVISION_SCHEMAS = _define_torchvision_operator_schemas()


@pytest.fixture
def model_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a model file (dedented source) into a fresh directory and return its path."""
    counter = iter(range(1000))

    def write(source: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"model_{next(counter)}.py")
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path

    return write
