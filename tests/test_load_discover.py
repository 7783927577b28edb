"""Finding models in a file (gradlint.load.discover): ATTR, the three discovery levels, LoadedModel fields."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from gradlint.errors import LoadError
from gradlint.load import TargetSpec, load_target

FIXTURES = Path(__file__).parent / "fixtures" / "load"

NET = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return torch.relu(self.fc(x))


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.inp = nn.Linear(4, width)
        self.block = Block(width)

    def forward(self, x):
        return self.block(self.inp(x))
"""


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths in messages


def targets(path: str, attr: str | None = None, *, from_directory: bool = False) -> list[str]:
    return [m.target for m in load_target(TargetSpec(path, attr, from_directory))]


# -- level 1: module-level instances --------------------------------------------------------------


def test_level1_module_level_instance(tmp_path: Path) -> None:
    write(tmp_path, "inst.py", NET + "\nnet = Net()\n\ndef build_model():\n    return Net(16)\n")
    [loaded] = load_target(TargetSpec("inst.py"))
    assert loaded.target == "inst.py:net"
    assert loaded.name == "Net"
    assert loaded.source_path == "inst.py"


def test_level1_skips_submodules_aliases_losses_and_imported_instances(tmp_path: Path) -> None:
    write(tmp_path, "shared_backbone.py", "from torch import nn\nbackbone = nn.Linear(3, 3)\n")
    write(
        tmp_path,
        "composed.py",
        """
        from torch import nn
        from shared_backbone import backbone

        encoder = nn.Linear(3, 6)
        head = nn.Linear(6, 2)
        model = nn.Sequential(encoder, nn.ReLU(), head)
        alias = model
        criterion = nn.CrossEntropyLoss()
        act = nn.ReLU()
        other = nn.Linear(2, 2)
        """,
    )
    assert targets("composed.py") == ["composed.py:model", "composed.py:other"]


def test_level1_returns_the_users_instance_unchanged(tmp_path: Path) -> None:
    write(
        tmp_path,
        "evalmode.py",
        "from torch import nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.Dropout())\nnet.eval()\n",
    )
    [loaded] = load_target(TargetSpec("evalmode.py"))
    assert loaded.model.training is False
    assert all(not m.training for m in loaded.model.modules())


# -- level 2: factories ------------------------------------------------------------------------------


def test_level2_factory_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "factories.py",
        NET
        + """
def model():
    return Net(1)

def make_model():
    return Net(2)

def get_model(width):
    return Net(width)
""",
    )
    [loaded] = load_target(TargetSpec("factories.py"))
    assert loaded.target == "factories.py:make_model"  # get_model needs an argument
    assert loaded.model.inp.out_features == 2


def test_level2_ignores_imported_factories(tmp_path: Path) -> None:
    write(tmp_path, "factory_lib.py", "from torch import nn\n\ndef build_model():\n    return nn.Linear(2, 2)\n")
    write(tmp_path, "uses_factory.py", "import torch\nfrom factory_lib import build_model\n")
    with pytest.raises(LoadError, match="no model found"):
        load_target(TargetSpec("uses_factory.py"))


def test_level2_factory_returning_something_else(tmp_path: Path) -> None:
    write(tmp_path, "notmodel.py", "import torch\n\ndef build_model():\n    return {'model': None}\n")
    with pytest.raises(LoadError, match=r"^notmodel\.py:build_model returned a dict, not an nn\.Module$"):
        load_target(TargetSpec("notmodel.py"))


# -- level 3: classes defined here ---------------------------------------------------------------


def test_level3_classes_defined_here_without_building_blocks(tmp_path: Path) -> None:
    write(tmp_path, "classes.py", NET)
    assert targets("classes.py") == ["classes.py:Net"]  # Block is used inside Net


def test_level3_several_models_and_what_is_left_out(tmp_path: Path) -> None:
    write(
        tmp_path,
        "other_lib.py",
        "from torch import nn\n\nclass Imported(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n",
    )
    write(
        tmp_path,
        "many.py",
        NET
        + """
from torch.nn import Linear
from other_lib import Imported


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class NeedsArgs(nn.Module):
    def __init__(self, width):
        super().__init__()
        raise AssertionError("never called: it needs an argument")


class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5)


Alias = Other
""",
    )
    assert targets("many.py") == ["many.py:Net", "many.py:Other"]


def test_level3_constructor_raising_is_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "badinit.py",
        "from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n        raise KeyError('oops')\n",
    )
    with pytest.raises(
        LoadError, match=r"^badinit\.py:Net: building the model raised KeyError: 'oops' \(at badinit\.py:7\)$"
    ):
        load_target(TargetSpec("badinit.py"))


# -- no model ----------------------------------------------------------------------------------------


def test_no_model_found_lists_what_was_looked_for(tmp_path: Path) -> None:
    write(tmp_path, "empty.py", "import torch\nfrom torch.nn import Linear\nX = 3\n")
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("empty.py"))
    assert str(info.value) == (
        "empty.py: no model found: looked for module-level nn.Module instances, "
        "factories build_model/get_model/make_model/model, and nn.Module subclasses defined here "
        "constructible without arguments; name one with empty.py:ATTR"
    )


def test_no_model_found_in_directory_mode_is_quiet(tmp_path: Path) -> None:
    write(tmp_path, "empty.py", "import torch\n")
    assert load_target(TargetSpec("empty.py", from_directory=True)) == []


# -- explicit ATTR ----------------------------------------------------------------------------------


def test_attr_instance_class_factory(tmp_path: Path) -> None:
    write(
        tmp_path,
        "attrs.py",
        NET
        + """
net = Net(3)

def build_model():
    return Net(5)

def custom_factory(width=7):
    return Net(width)

class Holder:
    encoder = nn.Linear(2, 9)
""",
    )
    assert load_target(TargetSpec("attrs.py", "net"))[0].model.inp.out_features == 3
    assert load_target(TargetSpec("attrs.py", "Net"))[0].model.inp.out_features == 8
    assert load_target(TargetSpec("attrs.py", "Block"))[0].name == "Block"  # named explicitly: not a building block
    assert load_target(TargetSpec("attrs.py", "custom_factory"))[0].model.inp.out_features == 7
    [dotted] = load_target(TargetSpec("attrs.py", "Holder.encoder"))
    assert dotted.target == "attrs.py:Holder.encoder"
    assert dotted.model.out_features == 9


def test_attr_that_is_not_a_model(tmp_path: Path) -> None:
    write(tmp_path, "consts.py", "import torch\nimport os\nWIDTH = 3\nclass Config:\n    pass\n")
    with pytest.raises(LoadError, match=r"^consts\.py:WIDTH is an int, not an nn\.Module, a model class or a factory$"):
        load_target(TargetSpec("consts.py", "WIDTH"))
    with pytest.raises(LoadError, match=r"^consts\.py:Config is the class Config, not an nn\.Module"):
        load_target(TargetSpec("consts.py", "Config"))
    with pytest.raises(LoadError, match=r"^consts\.py:os is the module os, not an nn\.Module"):
        load_target(TargetSpec("consts.py", "os"))


def test_attr_missing_lists_the_models_there(tmp_path: Path) -> None:
    write(tmp_path, "listing.py", NET + "\nnet = Net()\n\ndef build_model():\n    return Net()\n")
    with pytest.raises(LoadError) as info:
        load_target(TargetSpec("listing.py", "Nett"))
    assert str(info.value) == "listing.py: no attribute 'Nett' in the file; models here: Block, Net, net, build_model"


def test_attr_missing_in_a_file_without_models(tmp_path: Path) -> None:
    write(tmp_path, "bare.py", "import torch\n")
    with pytest.raises(LoadError, match=r"^bare\.py: no attribute 'Net' in the file; the file defines no nn\.Module"):
        load_target(TargetSpec("bare.py", "Net"))


def test_attr_class_needing_arguments(tmp_path: Path) -> None:
    write(
        tmp_path,
        "needs.py",
        "from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self, width, depth=2):\n        super().__init__()\n",
    )
    with pytest.raises(
        LoadError,
        match=r"^needs\.py:Net: the class needs arguments \(width\); give them in the target: gradlint 'needs\.py:Net\(width=\.\.\.\)'$",
    ):
        load_target(TargetSpec("needs.py", "Net"))


def test_attr_factory_needing_arguments(tmp_path: Path) -> None:
    write(tmp_path, "needsf.py", "from torch import nn\n\ndef build(width):\n    return nn.Linear(width, 2)\n")
    with pytest.raises(LoadError, match=r"^needsf\.py:build: the factory needs arguments \(width\)"):
        load_target(TargetSpec("needsf.py", "build"))


# -- what the recorder saw ---------------------------------------------------------------------------


def marker_lines(path: Path) -> dict[str, int]:
    lines = path.read_text().splitlines()
    return {m.group(1): i for i, line in enumerate(lines, 1) if (m := re.search(r"# site: (\S+)", line))}


def test_construction_sites_point_at_the_fixture_lines() -> None:
    path = FIXTURES / "sites_model.py"
    [loaded] = load_target(TargetSpec(str(path)))
    assert loaded.target == f"{path}:build_model"
    markers = marker_lines(path)
    sites = loaded.construction_sites
    assert {site.path for site in sites.values()} == {str(path.resolve())}
    assert sites[""].line == markers["root"]
    for module in ("inp", "out", "blocks.0", "blocks.1"):
        assert sites[module].line == markers[module], module
    assert sites["blocks.0.fc"].line == markers["block.fc"]
    assert sites["blocks"].line == sites["blocks.0"].line - 1  # nn.Sequential( opens the line before


def test_init_records_are_filled() -> None:
    [loaded] = load_target(TargetSpec(str(FIXTURES / "sites_model.py")))
    records = loaded.init_records
    assert [call.name for call in records["inp.weight"]] == ["kaiming_normal_"]
    assert dict(records["inp.weight"][0].args)["nonlinearity"] == "relu"
    assert [call.name for call in records["blocks.1.fc.bias"]] == ["zeros_"]
    assert records["out.weight"][-1].name == "kaiming_uniform_"  # PyTorch's default


def test_module_level_instances_are_recorded_at_import(tmp_path: Path) -> None:
    write(tmp_path, "atimport.py", "from torch import nn\n\n\nnet = nn.Sequential(\n    nn.Linear(2, 3),\n)\n")
    [loaded] = load_target(TargetSpec("atimport.py"))
    assert loaded.construction_sites["0"].line == 5
    assert loaded.init_records["0.weight"][0].name == "kaiming_uniform_"


def test_loaded_model_is_a_plain_module() -> None:
    [loaded] = load_target(TargetSpec(str(FIXTURES / "sites_model.py")))
    assert isinstance(loaded.model, nn.Module)
    assert loaded.model.training
    x = torch.randn(*loaded.inputs[0].shape)
    assert loaded.model(x).shape == (8, 2)
