"""Target parsing and directory expansion (gradlint.load.targets)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradlint.errors import LoadError
from gradlint.load import TargetSpec, expand_targets, load_target, parse_target

TORCH_MODEL = """
import torch
from torch import nn

model = nn.Linear(4, 2)
"""


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model.py", TargetSpec("model.py")),
        ("models/net.py:Net", TargetSpec("models/net.py", "Net")),
        ("net.py:build_model", TargetSpec("net.py", "build_model")),
        ("net.py:holder.encoder", TargetSpec("net.py", "holder.encoder")),
        ("./rel/net.py:Net", TargetSpec("./rel/net.py", "Net")),
        (r"C:\models\net.py", TargetSpec(r"C:\models\net.py")),
        (r"C:\models\net.py:Net", TargetSpec(r"C:\models\net.py", "Net")),
        ("net.py:", TargetSpec("net.py:")),
        ("net.py:1st", TargetSpec("net.py", "1st")),  # not an expression: reported by check_expression
        ("net.py:class", TargetSpec("net.py", "class")),
        (":Net", TargetSpec(":Net")),
        (
            "model.py:GPT(GPTConfig(n_layer=4, n_embd=128))",
            TargetSpec("model.py", "GPT(GPTConfig(n_layer=4, n_embd=128))"),
        ),
        ("train.py:Sequence().double()", TargetSpec("train.py", "Sequence().double()")),
        ("unet/unet_model.py:UNet(3, 2)", TargetSpec("unet/unet_model.py", "UNet(3, 2)")),
        ("m.py:Net(**{'a': 1}, t=x[1:2])", TargetSpec("m.py", "Net(**{'a': 1}, t=x[1:2])")),
        (r"C:\models\net.py:Net(d={'k': 1})", TargetSpec(r"C:\models\net.py", "Net(d={'k': 1})")),
        ("m.py::Net", TargetSpec("m.py", ":Net")),
        ("dir:Net", TargetSpec("dir", "Net")),
    ],
)
def test_parse_target(text: str, expected: TargetSpec) -> None:
    assert parse_target(text) == expected


def test_parse_target_keeps_an_existing_path_with_a_colon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd:Net").write_text("")
    assert parse_target("odd:Net") == TargetSpec("odd:Net")


def test_parse_target_prefers_the_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "a.py:b.py:Net()" could be the file "a.py" or "a.py:b.py"; the one that exists wins.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py:b.py").write_text("")
    assert parse_target("a.py:b.py:Net()") == TargetSpec("a.py:b.py", "Net()")
    assert parse_target("c.py:d.py:Net()") == TargetSpec("c.py", "d.py:Net()")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("GPT(", r"^m\.py:GPT\(: bad model expression: '\(' was never closed at column 4$"),
        ("1st", r"^m\.py:1st: bad model expression: invalid decimal literal"),
        (":Net", r"^m\.py::Net: one colon separates the file and the model: m\.py:Net$"),
    ],
)
def test_bad_expression_is_one_line_before_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expression: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran.marker"
    write(tmp_path, "m.py", TORCH_MODEL + f"open({str(marker)!r}, 'w')\n")
    with pytest.raises(LoadError, match=message):
        expand_targets([f"m.py:{expression}"])
    assert not marker.exists()


def test_target_spec_str() -> None:
    assert str(TargetSpec("a.py", "Net")) == "a.py:Net"
    assert str(TargetSpec("a.py")) == "a.py"


def test_missing_path_is_one_line_load_error() -> None:
    with pytest.raises(LoadError) as info:
        expand_targets(["no/such/model.py"])
    assert str(info.value) == "no/such/model.py: no such file or directory"


def test_missing_path_with_attr() -> None:
    with pytest.raises(LoadError, match=r"^no/such/model\.py: no such file or directory$"):
        expand_targets(["no/such/model.py:Net"])


def test_load_target_checks_the_path_too() -> None:
    with pytest.raises(LoadError, match="no such file or directory"):
        load_target(TargetSpec("nowhere.py"))


def test_not_a_python_file(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "hello")
    with pytest.raises(LoadError, match=r"notes\.txt: not a Python file"):
        expand_targets([str(path)])


def test_attr_on_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="ATTR cannot be used with a directory"):
        expand_targets([f"{tmp_path}:Net"])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory tree with model files, files to skip, and a non-torch file that must not be imported."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "proj"
    write(root, "b_model.py", TORCH_MODEL)
    write(root, "a_model.py", TORCH_MODEL)
    write(root, "sub/deep/c_model.py", "import torch.nn as nn\nnet = nn.Linear(3, 3)\n")
    write(root, "sub/hf.py", "from transformers import AutoModel\n")
    write(root, "sub/lazy.py", "def build():\n    import torch\n")
    write(root, "not_torch.py", f"open({str(tmp_path / 'imported.marker')!r}, 'w').write('x')\n")
    write(root, "numpy_only.py", "import numpy as np\n")
    write(root, "broken_torch.py", "import torch\ndef oops(:\n")
    write(root, "broken_other.py", "print 'python 2'\n")
    write(root, "setup.py", "import torch\nfrom setuptools import setup\nsetup()\n")
    write(root, "readme.txt", "import torch\n")
    for skipped in (
        ".hidden",
        "__pycache__",
        ".venv",
        "venv",
        "env",
        "build",
        "dist",
        "site-packages",
        "node_modules",
        ".git",
        "x.egg-info",
    ):
        write(root, f"{skipped}/m.py", TORCH_MODEL)
    return root


def test_directory_expansion(project: Path) -> None:
    specs = expand_targets(["proj"])
    assert [s.path for s in specs] == [
        "proj/a_model.py",
        "proj/b_model.py",
        "proj/broken_torch.py",
        "proj/sub/deep/c_model.py",
        "proj/sub/hf.py",
        "proj/sub/lazy.py",
    ]
    assert all(s.from_directory and s.attr is None for s in specs)


def test_directory_paths_stay_as_written(project: Path) -> None:
    assert expand_targets(["./proj/sub/deep/"])[0].path == "proj/sub/deep/c_model.py"


def test_expansion_never_imports_files(project: Path, tmp_path: Path) -> None:
    expand_targets(["proj"])
    assert not (tmp_path / "imported.marker").exists()


def test_directory_mode_loads_models_and_skips_the_rest(project: Path, tmp_path: Path) -> None:
    loaded = {}
    for spec in expand_targets(["proj/a_model.py", "proj/sub"]):
        if spec.path.endswith("hf.py"):
            continue  # importing transformers is slow and beside the point here
        loaded[spec.path] = [m.target for m in load_target(spec)]
    assert loaded == {
        "proj/a_model.py": ["proj/a_model.py:model"],
        "proj/sub/lazy.py": [],
        "proj/sub/deep/c_model.py": ["proj/sub/deep/c_model.py:net"],
    }
    assert not (tmp_path / "imported.marker").exists()


def test_broken_torch_file_in_a_directory_is_a_syntax_error(project: Path) -> None:
    spec = next(s for s in expand_targets(["proj"]) if s.path.endswith("broken_torch.py"))
    with pytest.raises(LoadError, match=r"^proj/broken_torch\.py:2: syntax error: "):
        load_target(spec)


def test_duplicates_are_kept_once_and_explicit_wins(project: Path) -> None:
    specs = expand_targets(["proj/sub", "proj/sub/deep/c_model.py", "proj/sub/deep/c_model.py:net"])
    c_specs = [s for s in specs if s.path.endswith("c_model.py")]
    assert c_specs == [TargetSpec("proj/sub/deep/c_model.py"), TargetSpec("proj/sub/deep/c_model.py", "net")]


def test_explicit_file_keeps_its_attr(project: Path) -> None:
    assert expand_targets(["proj/a_model.py:model"]) == [TargetSpec("proj/a_model.py", "model")]
