"""Discovery of what a person sees (gradlint.load.recipes): model factories, config-built classes, "no model found"."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradlint.errors import LoadError
from gradlint.load import TargetSpec, load_target


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


RESNET = """
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes):
        super().__init__()
        self.fc = nn.Linear(in_planes, planes)

    def forward(self, x):
        return self.fc(x)


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, width=4):
        super().__init__()
        self.layers = nn.Sequential(*[block(width, width) for _ in range(sum(num_blocks))])

    def forward(self, x):
        return self.layers(x)


def ResNet18():
    return ResNet(BasicBlock, [2, 2, 2, 2])


def ResNet34(width=4):
    model = ResNet(BasicBlock, [3, 4, 6, 3], width)
    return model


def resnet(depth):
    return ResNet(BasicBlock, [depth])


def main():
    raise SystemExit("main() must never be called by discovery")


def helper():
    return [1, 2]
"""


def test_factories_found_from_their_body(tmp_path: Path) -> None:
    write(tmp_path, "resnet.py", RESNET)
    loaded = load_target(TargetSpec("resnet.py"))
    assert [m.target for m in loaded] == ["resnet.py:ResNet18", "resnet.py:ResNet34"]
    assert [m.built for m in loaded] == ["ResNet18()", "ResNet34()"]
    assert [len(m.model.layers) for m in loaded] == [8, 16]


def test_a_factory_of_a_class_that_builds_alone_is_the_same_model(tmp_path: Path) -> None:
    write(
        tmp_path,
        "same.py",
        """
        from torch import nn

        class Net(nn.Module):
            def __init__(self, width=3):
                super().__init__()
                self.fc = nn.Linear(width, 2)

        def net_wide():
            return Net(9)
        """,
    )
    [loaded] = load_target(TargetSpec("same.py"))
    assert (loaded.target, loaded.built) == ("same.py:Net", "Net()")


NANOGPT = """
from dataclasses import dataclass
from torch import nn


@dataclass
class GPTConfig:
    block_size: int = 16
    n_embd: int = 8


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, config.n_embd)


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(50, config.n_embd)
        self.h = nn.ModuleList([Block(config) for _ in range(2)])
"""


def test_unannotated_config_parameter_and_the_files_one_config_class(tmp_path: Path) -> None:
    write(tmp_path, "gpt.py", NANOGPT)
    [loaded] = load_target(TargetSpec("gpt.py"))  # Block(config) builds too, but is a building block of GPT
    assert loaded.target == "gpt.py:GPT(GPTConfig())"
    assert loaded.built == "GPT(GPTConfig())"
    assert loaded.name == "GPT" and len(loaded.model.h) == 2


def test_two_config_classes_are_no_guess(tmp_path: Path) -> None:
    write(tmp_path, "two.py", NANOGPT + "\n\n@dataclass\nclass TrainConfig:\n    lr: float = 0.1\n")
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("two.py"))
    assert str(info.value) == (
        "two.py: no model found: Block needs config; GPT needs config; "
        "name one with its arguments: gradlint 'two.py:GPT(config=...)'"
    )


def test_annotated_dataclass_parameter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "llama.py",
        """
        from __future__ import annotations
        from dataclasses import dataclass
        from torch import nn

        @dataclass
        class ModelArgs:
            dim: int = 8

        @dataclass
        class OtherSettings:
            lr: float = 0.1

        class Transformer(nn.Module):
            def __init__(self, params: ModelArgs, *, extra: OtherSettings):
                super().__init__()
                self.out = nn.Linear(params.dim, params.dim)
        """,
    )
    [loaded] = load_target(TargetSpec("llama.py"))
    assert loaded.built == "Transformer(params=ModelArgs(), extra=OtherSettings())"


def test_a_config_that_is_not_all_default_is_no_guess(tmp_path: Path) -> None:
    write(
        tmp_path,
        "needscfg.py",
        """
        from dataclasses import dataclass
        from torch import nn

        @dataclass
        class Config:
            vocab: int

        class Model(nn.Module):
            def __init__(self, config: Config):
                super().__init__()
                self.fc = nn.Linear(config.vocab, 2)
        """,
    )
    with pytest.raises(LoadError, match=r"Model needs config; name one with its arguments: gradlint 'needscfg.py:"):
        load_target(TargetSpec("needscfg.py"))


def test_a_guessed_build_that_fails_is_listed_with_its_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fails.py",
        """
        from dataclasses import dataclass
        from torch import nn

        @dataclass
        class ModelConfig:
            vocab_size: int = -1

        class Net(nn.Module):
            def __init__(self, cfg):
                super().__init__()
                self.emb = nn.Embedding(cfg.vocab_size, 4)
        """,
    )
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("fails.py"))
    message = str(info.value)
    assert message.startswith("fails.py: no model found: Net failed as Net(ModelConfig()): raised RuntimeError: ")
    assert "\n" not in message and "(at fails.py:11)" in message
    assert message.endswith("; name one with its arguments: gradlint 'fails.py:Net(cfg=...)'")


UNET = """
from torch import nn


class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3)


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False):
        super().__init__()
        self.inc = DoubleConv(n_channels, 64)
        self.outc = nn.Conv2d(64, n_classes, 1)


class Identity(nn.Module):
    def forward(self, x):
        return x
"""


def test_no_model_found_lists_what_it_saw_and_a_command_to_paste(tmp_path: Path) -> None:
    write(tmp_path, "unet_model.py", UNET)
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("unet_model.py"))
    assert str(info.value) == (
        "unet_model.py: no model found: DoubleConv needs in_channels, out_channels; "
        "UNet needs n_channels, n_classes; Identity has no parameters; "
        "name one with its arguments: gradlint 'unet_model.py:UNet(n_channels=..., n_classes=...)'"
    )


def test_a_factory_needing_arguments_is_suggested_when_no_class_is(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fac.py",
        """
        from torch import nn

        def mlp(width, depth=2):
            return nn.Sequential(nn.Linear(width, width))
        """,
    )
    with pytest.raises(
        LoadError, match=r"^fac\.py: no model found: mlp needs width; .* gradlint 'fac\.py:mlp\(width=\.\.\.\)'$"
    ):
        load_target(TargetSpec("fac.py"))


def test_directory_mode_stays_quiet(tmp_path: Path) -> None:
    write(tmp_path, "unet_model.py", UNET)
    assert load_target(TargetSpec("unet_model.py", from_directory=True)) == []


def test_a_building_block_that_fails_alone_does_not_hide_the_model(tmp_path: Path) -> None:
    write(
        tmp_path,
        "cct.py",
        """
        from torch import nn

        class DropPath(nn.Module):
            def __init__(self, drop_prob=None):
                super().__init__()
                self.drop_prob = float(drop_prob)

        class CCT(nn.Module):
            def __init__(self, dim=8):
                super().__init__()
                self.fc = nn.Linear(dim, dim)
                self.drop = DropPath(0.1)
        """,
    )
    [loaded] = load_target(TargetSpec("cct.py"))
    assert loaded.target == "cct.py:CCT"
