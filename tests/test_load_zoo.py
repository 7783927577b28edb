"""Zoo targets (``torchvision:NAME``, ``timm:NAME``, ``hf:CONFIG``): parsing and the errors that need no model built.

Building real models is in ``test_real_architectures.py`` (marked ``real``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gradlint.errors import LoadError
from gradlint.load import expand_targets, load_target, parse_target
from gradlint.load.zoo import torchvision_mismatch


@pytest.mark.parametrize(
    ("text", "zoo", "path", "attr"),
    [
        ("torchvision:resnet50", "torchvision", "torchvision:resnet50", None),
        ("timm:convnext_tiny", "timm", "timm:convnext_tiny", None),
        ("timm:vit_tiny_patch16_224.augreg_in21k", "timm", "timm:vit_tiny_patch16_224.augreg_in21k", None),
        ("hf:configs/gpt2/config.json", "hf", "hf:configs/gpt2/config.json", None),
        ("hf:configs/gpt2", "hf", "hf:configs/gpt2", None),
        ("hf:configs/bert/config.json:BertModel", "hf", "hf:configs/bert/config.json", "BertModel"),
        ("hf:gpt2", "hf", "hf:gpt2", None),
        ("model.py:Net", None, "model.py", "Net"),
        ("other:thing", None, "other", "thing"),
    ],
)
def test_parse_zoo_targets(text: str, zoo: str | None, path: str, attr: str | None) -> None:
    spec = parse_target(text)
    assert (spec.zoo, spec.path, spec.attr) == (zoo, path, attr)
    assert str(spec) == text


def test_an_existing_file_named_like_a_zoo_target_stays_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "timm:odd.py").write_text("import torch\n")
    spec = parse_target("timm:odd.py")
    assert spec.zoo is None and spec.path == "timm:odd.py"


def test_zoo_targets_expand_without_touching_the_file_system() -> None:
    specs = expand_targets(["timm:resnet18", "hf:no/such/dir", "timm:resnet18"])
    assert [(s.zoo, str(s)) for s in specs] == [("timm", "timm:resnet18"), ("hf", "hf:no/such/dir")]


@pytest.mark.parametrize(
    ("target", "blocked", "extra"),
    [
        ("timm:resnet18", "timm", "vision"),
        ("torchvision:resnet18", "torchvision", "vision"),
        ("hf:gpt2", "transformers", "hf"),
    ],
)
def test_missing_extra_is_one_line_naming_it(
    target: str, blocked: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # import of X halted: ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "torchvision.models", raising=False)
    with pytest.raises(LoadError) as caught:
        load_target(parse_target(target))
    message = str(caught.value)
    assert message.startswith(f"{target}: {blocked} is not installed")
    assert f"pip install 'gradlint[{extra}]'" in message
    assert "\n" not in message


def test_empty_name() -> None:
    with pytest.raises(LoadError, match=r"^timm:: name a model after the colon, e\.g\. timm:convnext_tiny$"):
        load_target(parse_target("timm:"))


def test_hf_unknown_path_lists_close_model_types() -> None:
    pytest.importorskip("transformers")
    with pytest.raises(LoadError) as caught:
        load_target(parse_target("hf:gpt3"))
    message = str(caught.value)
    assert message.startswith("hf:gpt3: no such file or directory, and not a transformers model type")
    assert "gpt2" in message


def test_hf_directory_without_config(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(LoadError, match="holds no config.json"):
        load_target(parse_target(f"hf:{tmp_path}"))


def test_hf_config_without_model_type(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(LoadError, match='has no "model_type"'):
        load_target(parse_target(f"hf:{path}"))


def test_hf_config_that_is_not_json(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(LoadError, match=r"cannot read .*config\.json: JSONDecodeError"):
        load_target(parse_target(f"hf:{path}"))


def test_torchvision_mismatch_is_found_behind_other_errors() -> None:
    try:
        try:
            raise RuntimeError("operator torchvision::nms does not exist")
        except RuntimeError as inner:
            raise ModuleNotFoundError("Could not import module 'T5ForConditionalGeneration'") from inner
    except ModuleNotFoundError as outer:
        message = torchvision_mismatch(outer)
    assert message is not None
    assert "does not fit torch" in message and "torchvision::nms" in message
    assert torchvision_mismatch(ValueError("unrelated")) is None
