"""A small CIFAR-style CNN that trains well: He init, BatchNorm, a residual block.

gradlint should find nothing to fix here.
"""

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class HealthyCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
        )
        self.block1 = ResidualBlock(32)
        self.block2 = ResidualBlock(32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(32, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.block2(self.block1(x))
        return self.head(torch.flatten(self.pool(x), 1))


def build_model() -> nn.Module:
    return HealthyCNN()


def example_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(16, 3, 32, 32),)


if __name__ == "__main__":
    # gradlint imports this file without running this block.
    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        loss = model(torch.randn(16, 3, 32, 32)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
