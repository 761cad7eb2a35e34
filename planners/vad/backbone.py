"""VAD's image encoder: a ResNet-50 (mmdet's, torchvision's layout and names; batch norm frozen) and an FPN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BLOCKS = (3, 4, 6, 3)  # ResNet-50
WIDTHS = (64, 128, 256, 512)


class Bottleneck(nn.Module):
    """ResNet's bottleneck, stride on the 3 x 3 convolution (mmdet's ``style='pytorch'``)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The residual block."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """The four stages; ``forward`` returns those in ``stages`` (0-based)."""

    def __init__(self, stages: tuple[int, ...]):
        super().__init__()
        self.stages = stages
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (blocks, planes) in enumerate(zip(BLOCKS, WIDTHS, strict=True)):
            stride = 1 if i == 0 else 2
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
            layers = [Bottleneck(inplanes, planes, stride, downsample)]
            inplanes = planes * 4
            layers += [Bottleneck(inplanes, planes, 1, None) for _ in range(blocks - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of the chosen stages (strides 4, 8, 16, 32 for stages 0-3)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = []
        for i in range(4):
            x = getattr(self, f"layer{i + 1}")(x)
            if i in self.stages:
                out.append(x)
        return out


class _Conv(nn.Module):
    """mmcv's ``ConvModule`` without norm or activation: its weights sit under ``.conv``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution."""
        return self.conv(x)


class FPN(nn.Module):
    """mmdet's FPN with ``add_extra_convs='on_output'``.

    Extra levels by stride-2 3 x 3 convolutions on the last output (no ReLU before the first one, as
    ``relu_before_extra_convs`` only applies from the second on).
    """

    def __init__(self, in_channels: tuple[int, ...], out_channels: int, outputs: int):
        super().__init__()
        self.lateral_convs = nn.ModuleList(_Conv(c, out_channels, 1) for c in in_channels)
        convs = [_Conv(out_channels, out_channels, 3) for _ in in_channels]
        convs += [_Conv(out_channels, out_channels, 3, stride=2) for _ in range(outputs - len(in_channels))]
        self.fpn_convs = nn.ModuleList(convs)
        self.outputs = outputs

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Top-down merged levels, then the extra ones."""
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:])
        outs = [self.fpn_convs[i](laterals[i]) for i in range(len(laterals))]
        for i in range(len(laterals), self.outputs):
            source = outs[-1] if i == len(laterals) else F.relu(outs[-1])
            outs.append(self.fpn_convs[i](source))
        return outs
