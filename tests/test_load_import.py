"""Importing model files (gradlint.load.importer): names, sys.path, freshness, one-line errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gradlint.errors import LoadError
from gradlint.load import TargetSpec, load_target


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def load_one(path: Path | str, attr: str | None = None) -> object:
    [loaded] = load_target(TargetSpec(str(path), attr))
    return loaded


def test_main_guard_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "trained.marker"
    path = write(
        tmp_path,
        "train.py",
        f"""
        from torch import nn

        model = nn.Linear(4, 4)
        NAME = __name__

        if __name__ == "__main__":
            open({str(marker)!r}, "w").write("training ran")
            raise RuntimeError("the training loop ran")
        """,
    )
    loaded = load_one(path)
    assert not marker.exists()
    assert loaded.target == f"{path}:model"


def test_module_is_not_named_main(tmp_path: Path) -> None:
    path = write(tmp_path, "m.py", "from torch import nn\nNAME = __name__\nmodel = nn.Linear(2, 2)\n")
    load_one(path)
    names = [m.NAME for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(path)]
    assert names and all(name.startswith("gradlint_target_m_") for name in names)


def test_sibling_import(tmp_path: Path) -> None:
    write(tmp_path, "layers.py", "from torch import nn\n\ndef make_layer():\n    return nn.Linear(5, 3)\n")
    path = write(tmp_path, "net.py", "from layers import make_layer\n\nmodel = make_layer()\n")
    loaded = load_one(path)
    assert loaded.model.in_features == 5
    assert str(tmp_path) not in sys.path  # restored after the load


def test_package_relative_import(tmp_path: Path) -> None:
    write(tmp_path, "mypkg_rel/__init__.py", "")
    write(tmp_path, "mypkg_rel/blocks.py", "from torch import nn\n\nclass Block(nn.Linear):\n    pass\n")
    path = write(
        tmp_path,
        "mypkg_rel/model.py",
        """
        from torch import nn
        from .blocks import Block

        def build_model():
            return nn.Sequential(Block(7, 7), nn.ReLU())
        """,
    )
    loaded = load_one(path)
    assert loaded.target == f"{path}:build_model"
    assert type(loaded.model[0]).__module__ == "mypkg_rel.blocks"
    assert str(tmp_path) not in sys.path


def test_nested_package_absolute_import(tmp_path: Path) -> None:
    write(tmp_path, "outerpkg/__init__.py", "")
    write(tmp_path, "outerpkg/inner/__init__.py", "")
    write(tmp_path, "outerpkg/inner/parts.py", "from torch import nn\nWIDTH = 9\n")
    path = write(
        tmp_path,
        "outerpkg/inner/net.py",
        "from torch import nn\nfrom outerpkg.inner.parts import WIDTH\nnet = nn.Linear(WIDTH, 1)\n",
    )
    assert load_one(path).model.in_features == 9


def test_syntax_error_has_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bad.py", "import torch\n\ndef f(:\n    pass\n")
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("bad.py"))
    message = str(info.value)
    assert message.startswith("bad.py:3: syntax error: ")
    assert "\n" not in message


def test_syntax_error_in_an_imported_sibling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "brokenhelper.py", "x = (\n")
    write(tmp_path, "uses.py", "import torch\nimport brokenhelper\n")
    with pytest.raises(LoadError, match=r"^uses\.py: importing it raised SyntaxError: .* \(at brokenhelper\.py:1\)$"):
        load_target(TargetSpec("uses.py"))


def test_import_error_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "needs.py", "import torch\nimport not_a_real_module_xyz\n")
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("needs.py"))
    assert str(info.value) == (
        "needs.py: importing it raised ModuleNotFoundError: No module named 'not_a_real_module_xyz' (at needs.py:2)"
    )


def test_exception_at_import_points_at_the_deepest_line_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "deep.py",
        """
        import torch

        def helper():
            return torch.zeros(2, 3) @ torch.zeros(2, 3)

        value = helper()
        """,
    )
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("deep.py"))
    message = str(info.value)
    assert message.startswith("deep.py: importing it raised RuntimeError: ")
    assert message.endswith("(at deep.py:4)")
    assert "\n" not in message


def test_sys_exit_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "quits.py", "import sys\nimport torch\nsys.exit(3)\n")
    with pytest.raises(LoadError, match=r"^quits\.py: importing it called sys\.exit\(3\) \(at quits\.py:3\); move"):
        load_target(TargetSpec("quits.py"))


def test_argparse_at_module_level_sees_no_gradlint_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["gradlint", "--format", "json", "x.py"])
    path = write(
        tmp_path,
        "script.py",
        """
        import argparse
        from torch import nn

        parser = argparse.ArgumentParser()
        parser.add_argument("--width", type=int, default=6)
        args = parser.parse_args()
        model = nn.Linear(args.width, 2)
        """,
    )
    assert load_one(path).model.in_features == 6
    assert sys.argv == ["gradlint", "--format", "json", "x.py"]


def test_constructor_raising(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "raises.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self, width=4):
                super().__init__()
                raise ValueError(f"width {width} is not supported")
        """,
    )
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("raises.py", "Net"))
    assert (
        str(info.value)
        == "raises.py:Net: building the model raised ValueError: width 4 is not supported (at raises.py:6)"
    )


def test_factory_raising_inside_torch_points_at_the_users_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "fac.py", "from torch import nn\n\ndef build_model():\n    return nn.Linear(-1, 3)\n")
    with pytest.raises(
        LoadError, match=r"^fac\.py:build_model: building the model raised RuntimeError: .* \(at fac\.py:4\)$"
    ):
        load_target(TargetSpec("fac.py"))


def test_print_at_import_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "chatty.py", "from torch import nn\nprint('hello from the model file')\nmodel = nn.Linear(2, 2)\n"
    )
    load_one(path)
    captured = capsys.readouterr()
    assert "hello from the model file" not in captured.out
    assert "hello from the model file" in captured.err


def test_loading_twice_gives_independent_models(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "twice.py",
        """
        from torch import nn

        BUILT = []
        model = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
        BUILT.append(model)
        """,
    )
    first, second = load_one(path), load_one(path)
    assert first.model is not second.model
    assert first.model[0].weight.data_ptr() != second.model[0].weight.data_ptr()
    assert first.model.__class__ is second.model.__class__  # nn.Sequential, from torch
    with torch.no_grad():
        first.model[0].weight.zero_()
    assert second.model[0].weight.abs().sum() > 0


def test_reload_sees_edits_to_the_file_and_its_siblings(tmp_path: Path) -> None:
    write(tmp_path, "width_cfg.py", "WIDTH = 3\n")
    path = write(
        tmp_path, "edited.py", "from torch import nn\nfrom width_cfg import WIDTH\nmodel = nn.Linear(WIDTH, 1)\n"
    )
    assert load_one(path).model.in_features == 3
    write(tmp_path, "width_cfg.py", "WIDTH = 11\n")
    assert load_one(path).model.in_features == 11


def test_two_projects_with_the_same_sibling_name(tmp_path: Path) -> None:
    for name, width in (("one", 2), ("two", 5)):
        write(tmp_path, f"{name}/shared_utils.py", f"WIDTH = {width}\n")
        write(
            tmp_path,
            f"{name}/model.py",
            "from torch import nn\nfrom shared_utils import WIDTH\nmodel = nn.Linear(WIDTH, 1)\n",
        )
    assert load_one(tmp_path / "one/model.py").model.in_features == 2
    assert load_one(tmp_path / "two/model.py").model.in_features == 5


def test_two_packages_with_the_same_name(tmp_path: Path) -> None:
    for name, width in (("a", 4), ("b", 8)):
        write(tmp_path, f"{name}/samepkg/__init__.py", f"WIDTH = {width}\n")
        write(
            tmp_path,
            f"{name}/samepkg/net.py",
            "from torch import nn\nfrom . import WIDTH\nmodel = nn.Linear(WIDTH, 1)\n",
        )
    assert load_one(tmp_path / "a/samepkg/net.py").model.in_features == 4
    assert load_one(tmp_path / "b/samepkg/net.py").model.in_features == 8


def test_a_module_the_caller_imported_is_given_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "callerpkg/__init__.py", "")
    path = write(tmp_path, "callerpkg/net.py", "from torch import nn\nmodel = nn.Linear(2, 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import callerpkg.net as theirs  # type: ignore[import-not-found]

    loaded = load_one(path)
    assert loaded.model is not theirs.model  # re-executed: a fresh model
    assert sys.modules["callerpkg.net"] is theirs
    assert sys.modules["callerpkg"].net is theirs


def test_process_state_is_restored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "global_state.py",
        """
        import torch
        from torch import nn

        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.manual_seed(1234)
        model = nn.Linear(2, 2)
        """,
    )
    rng_before = torch.get_rng_state()
    dtype_before, grad_before, path_before = torch.get_default_dtype(), torch.is_grad_enabled(), list(sys.path)
    loaded = load_one(path)
    assert loaded.model.weight.dtype == torch.float64
    assert torch.get_default_dtype() == dtype_before
    assert torch.is_grad_enabled() == grad_before
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert sys.path == path_before


def test_models_are_the_same_on_every_run(tmp_path: Path) -> None:
    path = write(tmp_path, "seeded.py", "from torch import nn\n\ndef build_model():\n    return nn.Linear(4, 4)\n")
    first, second = load_one(path), load_one(path)
    assert torch.equal(first.model.weight, second.model.weight)


def test_no_pycache_is_written(tmp_path: Path) -> None:
    write(tmp_path, "clean_helper.py", "WIDTH = 2\n")
    path = write(
        tmp_path, "clean.py", "from torch import nn\nfrom clean_helper import WIDTH\nmodel = nn.Linear(WIDTH, 1)\n"
    )
    load_one(path)
    assert not (tmp_path / "__pycache__").exists()


def test_package_named_like_an_imported_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "torch/__init__.py", "")
    write(tmp_path, "torch/net.py", "model = None\n")
    with pytest.raises(
        LoadError, match=r"^torch/net\.py: cannot import it as torch\.net: the package name 'torch' is taken"
    ):
        load_target(TargetSpec("torch/net.py"))
    import torch as real_torch

    assert real_torch.nn.Linear is torch.nn.Linear
