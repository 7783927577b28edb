"""An nn.LSTM with the forget-gate bias set to 1 (Jozefowicz et al. 2015), xavier W_ih, orthogonal W_hh, output at every step: ok."""

import torch
from torch import nn


class SequenceTagger(nn.Module):
    def __init__(self, input_size: int = 48, hidden_size: int = 96, tags: int = 12) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        for name, param in self.lstm.named_parameters():
            if "weight_ih" in name:
                nn.init.xavier_uniform_(param)
            elif "weight_hh" in name:
                nn.init.orthogonal_(param)
            elif "bias" in name:
                param.data.fill_(0)
                n = param.size(0)
                param.data[n // 4 : n // 2].fill_(1.0)
        self.tagger = nn.Linear(hidden_size, tags)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.tagger(out)


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return SequenceTagger()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 32, 48),)
