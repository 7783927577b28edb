"""Which files directory and pre-commit mode import (gradlint.load.targets.may_hold_model), and that they load."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from gradlint import api
from gradlint.load import expand_targets, load_target
from gradlint.load.targets import local_imports, may_hold_model


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


NET = """
from torch import nn


class Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 2)

    def forward(self, x):
        return self.fc(x)
"""


def test_a_factory_importing_its_model_from_a_neighbour(tmp_path: Path) -> None:
    write(tmp_path, "proj/net.py", NET)
    write(tmp_path, "proj/factory.py", "from net import Net\n\ndef build_model():\n    return Net(4)\n")
    assert may_hold_model("proj/factory.py")
    [spec] = [s for s in expand_targets(["proj"]) if s.path.endswith("factory.py")]
    [loaded] = load_target(spec)
    assert (loaded.target, loaded.built) == ("proj/factory.py:build_model", "build_model()")


def test_defined_names_make_a_candidate(tmp_path: Path) -> None:
    write(tmp_path, "inputs_only.py", "from mylib import thing\n\ndef example_inputs():\n    return thing()\n")
    write(tmp_path, "constant.py", "EXAMPLE_INPUTS = None\n")
    write(tmp_path, "plain.py", "import numpy\n\ndef helper():\n    return 1\n")
    assert may_hold_model("inputs_only.py") and may_hold_model("constant.py")
    assert not may_hold_model("plain.py")


def test_sibling_imports_follow_chains_and_cycles(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/layers.py", "import torch\n")
    write(tmp_path, "pkg/blocks.py", "from .layers import *\n")
    write(tmp_path, "pkg/model.py", "from . import blocks\n")
    write(tmp_path, "pkg/a.py", "import b\n")
    write(tmp_path, "pkg/b.py", "import a\n")
    write(tmp_path, "pkg/sub/deep.py", "from ..blocks import X\n")
    assert may_hold_model("pkg/model.py") and may_hold_model("pkg/sub/deep.py")
    assert not may_hold_model("pkg/a.py")  # a cycle of files that import no torch
    assert local_imports(ast.parse("import numpy, os.path\n"), str(tmp_path)) == []


def test_pre_commit_mode_keeps_the_factory_file(tmp_path: Path) -> None:
    write(tmp_path, "net.py", NET)
    write(tmp_path, "factory.py", "import net\n\ndef build_model():\n    return net.Net(3)\n")
    write(tmp_path, "notes.py", "X = 1\n")
    report = api.lint_paths(["factory.py", "notes.py"], options=api.LintOptions(skip_no_model=True))
    assert [m.graph.target for m in report.models] == ["factory.py:build_model"]
    assert not report.errors
