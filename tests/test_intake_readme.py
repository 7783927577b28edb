"""The README's "Linting your own models" commands: each is in the README as run, and says how the model
was built and which inputs it was traced with (the lines the README shows)."""

from __future__ import annotations

import shlex

import pytest

from gradlint.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

COMMANDS = {
    "gradlint 'docs/intake/gpt.py:GPT(GPTConfig(n_layer=4, n_embd=128))'": (
        0,
        "  built as GPT(GPTConfig(n_layer=4, n_embd=128))",
        "  inputs: (8, 32) int64 (inferred from first layer wte (Embedding))",
    ),
    "gradlint 'docs/intake/unet.py:UNet(3, 2)'": (
        0,
        "  built as UNet(3, 2)",
        "  inputs: (8, 3, 32, 32) float32 (inferred from first layer inc.0 (Conv2d))",
    ),
    "gradlint 'docs/intake/rnn_lm.py:RNNModel(1000, 200, 200, 2)' "
    "--inputs '(torch.randint(0, 1000, (35, 8)), model.init_hidden(8))'": (
        1,
        "  built as RNNModel(1000, 200, 200, 2)",
        "  inputs: (35, 8) int64, args[1][0]=(2, 8, 200) float32, args[1][1]=(2, 8, 200) float32 (--inputs)",
    ),
    "gradlint 'docs/intake/diffusion.py:DiffusionUNet()' "
    "--inputs '(torch.randn(2, 4, 32, 32), torch.randint(0, 1000, (2,)))' "
    "--input-kwargs \"{'context': torch.randn(2, 77, 128)}\"": (
        0,
        "  built as DiffusionUNet()",
        "  inputs: (2, 4, 32, 32) float32, (2,) int64 (--inputs); context=(2, 77, 128) float32 (--input-kwargs)",
    ),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_readme_command(command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"$ {command}\n" in README
    monkeypatch.chdir(ROOT)
    code, built, inputs = COMMANDS[command]
    assert main([*shlex.split(command)[1:], "--no-color", "--isolated"]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[1:3] == [built, inputs]
    assert "\n".join(out.splitlines()[:3]) in README
