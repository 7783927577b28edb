"""Input inference checked on a meta copy (gradlint.load.inference): execution order, the search, latents, cells."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradlint.load import infer_inputs
from gradlint.load.inference import MAX_GROWTH


def shapes(model: nn.Module) -> list[tuple[tuple[int, ...], str]]:
    return [(spec.shape, spec.dtype) for spec in infer_inputs(model).specs]


def origin(model: nn.Module) -> str:
    return infer_inputs(model).specs[0].origin


class HeadFirst(nn.Module):
    """Registers its classifier first; the convolution runs first."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(64, 10)
        self.conv = nn.Conv2d(3, 1, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.conv(x)).flatten(1))


def test_the_first_layer_that_runs_not_the_first_registered() -> None:
    assert shapes(HeadFirst()) == [((8, 3, 32, 32), "float32")]
    assert origin(HeadFirst()).endswith("first layer run conv (Conv2d))")
    assert origin(HeadFirst()).startswith("found by a search on the meta device (")


def test_a_first_guess_that_runs_keeps_the_plain_phrase() -> None:
    assert origin(nn.Sequential(nn.Linear(20, 5), nn.ReLU())) == "inferred from first layer 0 (Linear)"


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_nn_transformer_gets_source_and_target_sequences() -> None:
    model = nn.Transformer(16, 2, 1, 1, dim_feedforward=32)
    assert shapes(model) == [((32, 8, 16), "float32"), ((32, 8, 16), "float32")]
    assert "first layer run encoder.layers.0.self_attn (MultiheadAttention)" in origin(model)


class Patches(nn.Module):
    """A ViT's patch embedding behind a reshape (einops' Rearrange): only 3×32×32 images fit its positions."""

    def __init__(self, patch: int = 8, dim: int = 16) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(3 * patch * patch, dim)
        self.pos = nn.Parameter(torch.zeros(1, (32 // patch) ** 2, dim))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        b, c, h, w = img.shape
        p = self.patch
        x = img.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), -1)
        return self.proj(x) + self.pos


def test_a_linear_behind_a_rearrange_is_found_by_the_image_search() -> None:
    assert shapes(Patches()) == [((8, 3, 32, 32), "float32")]


def test_conv_transpose_generators_get_a_latent() -> None:
    generator = nn.Sequential(
        nn.ConvTranspose2d(16, 8, 4, 1, 0), nn.ReLU(), nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh()
    )
    assert shapes(generator) == [((8, 16, 1, 1), "float32")]
    assert origin(generator) == "inferred from first layer 0 (ConvTranspose2d)"


class FixedOutput(nn.Module):
    """Always produces 560×560 maps: only a large input makes that plausible."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.up = nn.Upsample(size=(560, 560))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.conv(x))


def test_an_absurd_output_size_is_not_accepted_while_a_plausible_candidate_runs() -> None:
    [(shape, _)] = shapes(FixedOutput())
    assert MAX_GROWTH * shape[-1] >= 560  # 32×32 or 64×64 would make 560×560 out of far less
    assert shape == (8, 3, 224, 224)


def test_an_absurd_output_size_that_nothing_avoids_is_said() -> None:
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Upsample(scale_factor=20))
    assert shapes(model) == [((8, 3, 32, 32), "float32")]
    assert origin(model).endswith(
        f"its output side 640 is over {MAX_GROWTH}× the input side 32, and no other candidate ran"
    )


class CellModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(10, 20)
        self.out = nn.Linear(20, 1)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h, _ = self.cell(x, state)
        return self.out(h)


def test_lstm_cell_with_its_state() -> None:
    result = infer_inputs(CellModel())
    x, (h, c) = result.values
    assert (x.shape, h.shape, c.shape) == ((8, 10), (8, 20), (8, 20))
    assert len(result.specs) == 3


def test_gru_cell_alone() -> None:
    assert shapes(nn.GRUCell(6, 4)) == [((8, 6), "float32")]


class LanguageModel(nn.Module):
    """word_language_model's shape: forward(input, hidden) with an LSTM's (h, c)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Embedding(50, 16)
        self.rnn = nn.LSTM(16, 24, num_layers=2)
        self.decoder = nn.Linear(24, 50)

    def forward(self, tokens: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        output, _ = self.rnn(self.encoder(tokens), hidden)
        return self.decoder(output)


def test_recurrent_model_with_a_hidden_state() -> None:
    tokens, (h, c) = infer_inputs(LanguageModel()).values
    assert tokens.dtype == torch.int64 and int(tokens.max()) < 50
    assert h.shape == c.shape == (2, tokens.shape[1], 24)


class Denoiser(nn.Module):
    """A diffusion model's forward(x, t)."""

    def __init__(self) -> None:
        super().__init__()
        self.time = nn.Linear(1, 8)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.time(t[:, None].float())[:, :, None, None]


def test_a_timestep_argument() -> None:
    assert shapes(Denoiser()) == [((8, 3, 32, 32), "float32"), ((8,), "float32")]


def test_the_search_never_touches_the_model() -> None:
    model = HeadFirst()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    infer_inputs(model)
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())
    assert not any(m._forward_pre_hooks for m in model.modules())


class ReadsValues(nn.Module):
    """A forward that branches on a value cannot run on the meta device."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) if x.abs().sum().item() >= 0 else -self.fc(x)


def test_a_forward_that_reads_values_is_checked_for_real_on_a_private_copy() -> None:
    model = ReadsValues()
    state = torch.random.get_rng_state()
    assert shapes(model) == [((8, 4), "float32")]
    assert origin(model).startswith("found by a search with real forwards on a private copy (1 of ")
    assert torch.equal(state, torch.random.get_rng_state())


class Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        y = self.fc(x)
        return y if mask is None else y.masked_fill(mask, 0.0)


def test_an_optional_argument_without_a_default_gets_none() -> None:
    result = infer_inputs(Masked())
    assert result.values[1] is None
    assert [spec.shape for spec in result.specs] == [(8, 6)]


@pytest.mark.filterwarnings("ignore:.*weight_norm.* is deprecated")
def test_old_style_weight_norm_is_checked_on_the_meta_device() -> None:
    # Its weight is a computed tensor attribute, which deepcopy refuses unless the copy swaps it out.
    model = nn.Sequential(nn.utils.weight_norm(nn.Conv1d(5, 8, 3)), nn.ReLU())
    assert origin(model) == "inferred from first layer 0 (Conv1d)"
    assert model[0].weight.grad_fn is not None  # the user's module is as it was


class TwoTables(nn.Module):
    """Registers its position table (1024 rows) before its token table (50 rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Embedding(1024, 8)
        self.tok = nn.Embedding(50, 8)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.tok(idx) + self.pos(torch.arange(idx.shape[1]))


def test_token_ids_index_every_table_of_the_model() -> None:
    [ids] = infer_inputs(TwoTables()).values
    assert ids.dtype == torch.int64 and int(ids.max()) < 50
    TwoTables()(ids)  # runs for real
