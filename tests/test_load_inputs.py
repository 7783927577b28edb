"""Example inputs (gradlint.load.inputs): --input-shape > example_inputs()/EXAMPLE_INPUTS > first layer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from gradlint.errors import InputError, UsageError
from gradlint.load import TargetSpec, infer_inputs, load_target, resolve_inputs
from gradlint.types import InputSpec


def write(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def shapes(model: nn.Module, batch_size: int = 8) -> list[tuple[tuple[int, ...], str]]:
    return [(spec.shape, spec.dtype) for spec in infer_inputs(model, batch_size).specs]


# -- inference from the first layer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (nn.Sequential(nn.Linear(20, 5), nn.ReLU()), [((8, 20), "float32")]),
        (nn.Conv1d(4, 8, 3), [((8, 4, 64), "float32")]),
        (nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU()), [((8, 3, 32, 32), "float32")]),
        (nn.Conv3d(2, 4, 3), [((8, 2, 16, 16, 16), "float32")]),
        (nn.ConvTranspose2d(6, 3, 2), [((8, 6, 1, 1), "float32")]),  # a generator's latent
        (nn.Embedding(100, 16), [((8, 32), "int64")]),
        (nn.EmbeddingBag(50, 4), [((8, 32), "int64")]),
        (nn.RNN(10, 20), [((32, 8, 10), "float32")]),
        (nn.RNN(10, 20, batch_first=True), [((8, 32, 10), "float32")]),
        (nn.LSTM(7, 20, batch_first=True), [((8, 32, 7), "float32")]),
        (nn.LSTM(7, 20), [((32, 8, 7), "float32")]),
        (nn.GRU(5, 9, batch_first=True), [((8, 32, 5), "float32")]),
        (nn.GRU(5, 9), [((32, 8, 5), "float32")]),
        (nn.Bilinear(3, 4, 2), [((8, 3), "float32"), ((8, 4), "float32")]),
        (nn.Linear(6, 2).double(), [((8, 6), "float64")]),
    ],
)
def test_inference_families(model: nn.Module, expected: list[tuple[tuple[int, ...], str]]) -> None:
    assert shapes(model) == expected


def test_embedding_ids_index_the_table() -> None:
    [ids] = infer_inputs(nn.Sequential(nn.Embedding(7, 4), nn.Linear(4, 2))).values
    assert ids.dtype == torch.int64
    assert int(ids.min()) >= 0 and int(ids.max()) < 7


def test_first_layer_in_registration_order_with_its_path() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(12)
            self.body = nn.Sequential(nn.Dropout(), nn.Linear(12, 4))
            self.head = nn.Conv2d(4, 4, 1)

    result = infer_inputs(Net())  # no forward: nothing runs, so the guess stays unchecked
    origin = "inferred from first layer body.1 (Linear), unchecked: no candidate ran on the meta device"
    assert result.specs == (InputSpec((8, 12), "float32", origin),)


def test_the_model_itself_as_first_layer() -> None:
    assert infer_inputs(nn.Linear(3, 3)).specs[0].origin == "inferred from first layer <model> (Linear)"


def test_batch_size() -> None:
    assert shapes(nn.Linear(3, 1), batch_size=2) == [((2, 3), "float32")]
    assert shapes(nn.LSTM(3, 4, batch_first=True), batch_size=4) == [((4, 32, 3), "float32")]


def test_hf_style_conv1d_by_its_attributes() -> None:
    class Conv1D(nn.Module):  # transformers.pytorch_utils.Conv1D, without importing transformers
        def __init__(self, nf: int, nx: int) -> None:
            super().__init__()
            self.nf, self.nx = nf, nx
            self.weight = nn.Parameter(torch.empty(nx, nf))
            self.bias = nn.Parameter(torch.zeros(nf))

    assert shapes(nn.Sequential(Conv1D(12, 5))) == [((8, 5), "float32")]


@pytest.mark.real
def test_transformers_conv1d() -> None:
    pytorch_utils = pytest.importorskip("transformers.pytorch_utils")
    assert shapes(pytorch_utils.Conv1D(12, 5)) == [((8, 5), "float32")]


def test_meta_models_get_meta_inputs() -> None:
    with torch.device("meta"):
        model = nn.Linear(4, 2)
    [x] = infer_inputs(model).values
    assert x.device.type == "meta" and x.shape == (8, 4)


def test_inferred_inputs_are_deterministic() -> None:
    first, second = infer_inputs(nn.Linear(5, 1)).values[0], infer_inputs(nn.Linear(5, 1)).values[0]
    assert torch.equal(first, second)


def test_nothing_fits() -> None:
    model = nn.Sequential(nn.LayerNorm(4), nn.Tanh())
    with pytest.raises(InputError) as info:
        infer_inputs(model, target="m.py:Net")
    assert str(info.value) == (
        "m.py:Net: cannot infer example inputs (first layer is LayerNorm); define example_inputs() or "
        "EXAMPLE_INPUTS in the file, or pass --input-shape 8,3,32,32"
    )


def test_nothing_fits_lazy_and_parameterless() -> None:
    with pytest.raises(InputError, match=r"first layer is LazyLinear, whose input size is not known yet"):
        infer_inputs(nn.Sequential(nn.LazyLinear(3)))
    with pytest.raises(InputError, match=r"the model has no layer with parameters"):
        infer_inputs(nn.ReLU())


def test_nothing_fits_through_load_target(tmp_path: Path) -> None:
    write(tmp_path, "normonly.py", "from torch import nn\nmodel = nn.Sequential(nn.LayerNorm(4))\n")
    with pytest.raises(
        InputError, match=r"^normonly\.py:model: cannot infer example inputs \(first layer is LayerNorm\)"
    ):
        load_target(TargetSpec("normonly.py"))
    [loaded] = load_target(TargetSpec("normonly.py"), input_shapes=[(2, 4)])
    assert loaded.inputs == (InputSpec((2, 4), "float32", "--input-shape"),)


# -- the file's own inputs -------------------------------------------------------------------------


MLP = "import torch\nfrom torch import nn\n\nmodel = nn.Linear(3, 2)\n"


def test_example_inputs_function(tmp_path: Path) -> None:
    write(tmp_path, "ex.py", MLP + "\ndef example_inputs():\n    return (torch.ones(4, 3),)\n")
    [loaded] = load_target(TargetSpec("ex.py"))
    assert loaded.inputs == (InputSpec((4, 3), "float32", "example_inputs() in ex.py"),)
    assert torch.equal(loaded.example_inputs[0], torch.ones(4, 3))


def test_example_inputs_taking_the_model(tmp_path: Path) -> None:
    write(tmp_path, "exm.py", MLP + "\ndef example_inputs(model):\n    return torch.zeros(2, model.in_features)\n")
    [loaded] = load_target(TargetSpec("exm.py"))
    assert loaded.inputs[0].shape == (2, 3)


@pytest.mark.parametrize("value", ["torch.zeros(5, 3)", "(torch.zeros(5, 3),)", "(torch.zeros(5, 3), None, 2)"])
def test_example_inputs_constant(tmp_path: Path, value: str) -> None:
    write(tmp_path, "const.py", MLP + f"\nEXAMPLE_INPUTS = {value}\n")
    [loaded] = load_target(TargetSpec("const.py"))
    assert loaded.inputs[0] == InputSpec((5, 3), "float32", "EXAMPLE_INPUTS in const.py")
    assert isinstance(loaded.example_inputs, tuple)


def test_example_inputs_list_is_one_argument(tmp_path: Path) -> None:
    # torch.export's convention: only a tuple spreads into several positional arguments.
    write(tmp_path, "lst.py", MLP + "\nEXAMPLE_INPUTS = [torch.zeros(5, 3), torch.zeros(5, dtype=torch.long)]\n")
    [loaded] = load_target(TargetSpec("lst.py"))
    assert len(loaded.example_inputs) == 1 and isinstance(loaded.example_inputs[0], list)
    assert [(s.name, s.shape, s.dtype) for s in loaded.inputs] == [
        ("args[0][0]", (5, 3), "float32"),
        ("args[0][1]", (5,), "int64"),
    ]


def test_example_inputs_of_the_wrong_kind(tmp_path: Path) -> None:
    write(tmp_path, "wrong.py", MLP + "\ndef example_inputs():\n    return (torch.zeros(1, 3), object())\n")
    with pytest.raises(
        InputError, match=r"^wrong\.py: example_inputs\(\) holds an object; inputs are tensors, tuples, lists"
    ):
        load_target(TargetSpec("wrong.py"))
    write(tmp_path, "wrong2.py", MLP + "\nEXAMPLE_INPUTS = (1, 'a')\n")
    with pytest.raises(
        InputError, match=r"^wrong2\.py:model: the inputs from EXAMPLE_INPUTS in wrong2\.py hold no tensor"
    ):
        load_target(TargetSpec("wrong2.py"))
    write(tmp_path, "wrong3.py", MLP + "\nEXAMPLE_INPUTS = ()\nEXAMPLE_KWARGS = [torch.zeros(1, 3)]\n")
    with pytest.raises(InputError, match=r"^wrong3\.py: EXAMPLE_KWARGS gave a list; keyword inputs are a dict"):
        load_target(TargetSpec("wrong3.py"))


def test_example_inputs_raising(tmp_path: Path) -> None:
    write(tmp_path, "raising.py", MLP + "\ndef example_inputs():\n    raise RuntimeError('no data')\n")
    with pytest.raises(InputError) as info:
        load_target(TargetSpec("raising.py"))
    assert str(info.value) == "raising.py: example_inputs() raised RuntimeError: no data (at raising.py:7)"


def test_example_inputs_with_too_many_arguments(tmp_path: Path) -> None:
    write(tmp_path, "many.py", MLP + "\ndef example_inputs(model, batch):\n    return torch.zeros(1, 3)\n")
    with pytest.raises(InputError, match=r"example_inputs\(\) takes 2 arguments"):
        load_target(TargetSpec("many.py"))


# -- --input-shape ---------------------------------------------------------------------------------


def test_input_shape_wins_over_example_inputs(tmp_path: Path) -> None:
    write(tmp_path, "both.py", MLP + "\ndef example_inputs():\n    raise AssertionError('not called')\n")
    [loaded] = load_target(TargetSpec("both.py"), input_shapes=[(16, 3)])
    assert loaded.inputs == (InputSpec((16, 3), "float32", "--input-shape"),)


def test_several_input_shapes_and_float_dtype(tmp_path: Path) -> None:
    write(tmp_path, "two.py", MLP)
    [loaded] = load_target(TargetSpec("two.py"), input_shapes=[(2, 3), (2, 5, 7)], input_dtype="float64")
    assert [(s.shape, s.dtype) for s in loaded.inputs] == [((2, 3), "float64"), ((2, 5, 7), "float64")]


def test_int_dtype_stays_below_the_embedding_size(tmp_path: Path) -> None:
    write(tmp_path, "emb.py", "from torch import nn\nmodel = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 2))\n")
    [loaded] = load_target(TargetSpec("emb.py"), input_shapes=[(64, 100)], input_dtype="int64")
    [ids] = loaded.example_inputs
    assert ids.dtype == torch.int64 and ids.shape == (64, 100)
    assert int(ids.max()) == 4 and int(ids.min()) == 0


def test_int_and_bool_dtypes_without_embedding(tmp_path: Path) -> None:
    write(tmp_path, "ints.py", MLP)
    [loaded] = load_target(TargetSpec("ints.py"), input_shapes=[(8, 3)], input_dtype="int32")
    assert loaded.inputs[0].dtype == "int32"
    assert set(loaded.example_inputs[0].unique().tolist()) <= {0, 1}
    [loaded] = load_target(TargetSpec("ints.py"), input_shapes=[(8, 3)], input_dtype="torch.bool")
    assert loaded.inputs[0].dtype == "bool"


def test_bad_dtype_and_shape(tmp_path: Path) -> None:
    marker = tmp_path / "ran.marker"
    write(tmp_path, "bad.py", MLP + f"open({str(marker)!r}, 'w')\n")
    with pytest.raises(UsageError, match=r"^--input-dtype 'float33' is not a torch dtype"):
        load_target(TargetSpec("bad.py"), input_shapes=[(2, 3)], input_dtype="float33")
    assert not marker.exists()  # checked before running the user's code
    with pytest.raises(UsageError, match=r"^--input-shape 2,0: every size must be a positive integer$"):
        load_target(TargetSpec("bad.py"), input_shapes=[(2, 0)])


def test_inputs_per_model_in_a_multi_model_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "multi.py",
        """
        from torch import nn

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(30, 8)
                self.rnn = nn.LSTM(8, 8, batch_first=True)

        class Vision(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3)
        """,
    )
    loaded = load_target(TargetSpec("multi.py"))
    assert [(m.target, m.inputs[0].shape, m.inputs[0].dtype) for m in loaded] == [
        ("multi.py:Tagger", (8, 32), "int64"),
        ("multi.py:Vision", (8, 1, 32, 32), "float32"),
    ]


# -- for a model object without a file (gradlint.api.lint) ----------------------------------------


def test_resolve_inputs_without_a_file() -> None:
    values, specs, kwargs = resolve_inputs(nn.GRU(3, 4, batch_first=True), None, "GRU")
    assert not kwargs
    assert specs == (InputSpec((8, 32, 3), "float32", "inferred from first layer <model> (GRU)"),)
    values, specs, _ = resolve_inputs(nn.Linear(3, 4), None, "Linear", [(2, 3)], "float64")
    assert values[0].dtype == torch.float64 and specs[0].origin == "--input-shape"
    with pytest.raises(InputError, match=r"^MyNet: cannot infer example inputs"):
        resolve_inputs(nn.LayerNorm(3), None, "MyNet")


def test_resolve_inputs_for_an_imported_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "own_inputs_mod.py", "import torch\n\ndef example_inputs():\n    raise ValueError('bad')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import own_inputs_mod  # type: ignore[import-not-found]

    with pytest.raises(
        InputError, match=r"^own_inputs_mod\.py: example_inputs\(\) raised ValueError: bad \(at own_inputs_mod\.py:4\)$"
    ):
        resolve_inputs(nn.Linear(2, 2), own_inputs_mod, "own_inputs_mod.py:model")
