"""An 8-conv ReLU CNN initialised the old-tutorial way, normal_(std=0.1) on 64-channel 3×3 convs: activations grow ~×1.7 per conv, gradients large but ok."""

import torch
from torch import nn


class OldSchoolCNN(nn.Module):
    def __init__(self, channels: int = 64, convs: int = 8, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.ReLU()]
        for i in range(convs - 1):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
            if i % 3 == 2:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.data.normal_(0, 0.1)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(x.amax(dim=(2, 3)))


def build_model() -> nn.Module:
    torch.manual_seed(0)
    return OldSchoolCNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(8, 3, 16, 16),)
