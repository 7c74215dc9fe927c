"""ResNets on RGB and cResNets on latents (Torfason et al. 2018, §4, Table 1, App. A.3).

One backbone class built from torchvision's `Bottleneck` and `ResNet._make_layer`;
variants are rows of block counts. A cResNet is a ResNet with the root block and conv2_x
cut off, whose conv3_x runs at stride 1 on the h/8 × w/8 × C latent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, ResNet

from nodecode.models.adapters import TwoBranchStem


@dataclass(frozen=True)
class ResNetSpec:
    """Bottleneck blocks in conv2_x … conv5_x; conv2_x = 0 means a cResNet on latents."""

    blocks: tuple[int, int, int, int]

    @property
    def on_latents(self) -> bool:
        return self.blocks[0] == 0


SPECS: dict[str, ResNetSpec] = {
    "resnet50": ResNetSpec((3, 4, 6, 3)),
    "resnet71": ResNetSpec((3, 4, 13, 3)),
    "cresnet39": ResNetSpec((0, 4, 6, 3)),
    "cresnet51": ResNetSpec((0, 4, 10, 3)),
    "cresnet72": ResNetSpec((0, 4, 17, 3)),
}

LATENT_STRIDE = 8  # the paper codec's downsampling: a latent pixel covers 8 × 8 image pixels
LATENT_STRIDES = (8, 16)  # the paper's codec; CompressAI's models (ŷ of Gupta et al.)
OUTPUT_STRIDE = 32  # a classifier's last features: image / 32, on RGB and on any latent


class ResNetBackbone(nn.Module):
    """Feature extractor: [root + conv2_x] + conv3_x + conv4_x + conv5_x.

    `width` scales every channel count (64 → round(64·width), …) so the same code runs at
    the paper's size on a GPU and small on a CPU. `dilated` replaces the strides of conv4_x
    and conv5_x by dilation 2 and 4 (DeepLab v2, output stride 8 for RGB; a cResNet then
    keeps the latent's resolution throughout). `branches=2` adds the follow-up work's
    two-branch stem for (ŷ, σ̂) latents of hyperprior codecs. `latent_stride` is the codec's
    downsampling: on a 16× latent (CompressAI's ŷ) conv4_x runs at stride 1, so the last
    features stay at image / 32 as in ResNet-50 and the paper's cResNets.
    """

    _make_layer = ResNet._make_layer  # torchvision's, unchanged

    input_mean: Tensor  # a buffer
    stem: nn.Module

    def __init__(
        self,
        spec: ResNetSpec,
        in_channels: int = 3,
        width: float = 1.0,
        dilated: bool = False,
        branches: int = 1,
        latent_stride: int = LATENT_STRIDE,
    ) -> None:
        super().__init__()
        if latent_stride not in LATENT_STRIDES:
            raise ValueError(f"latent_stride {latent_stride} is not one of {LATENT_STRIDES}")
        self._norm_layer = nn.BatchNorm2d
        self.groups, self.base_width, self.dilation = 1, 64, 1
        self.on_latents = spec.on_latents
        self.branches = branches
        planes = [max(1, round(p * width)) for p in (64, 128, 256, 512)]
        if spec.on_latents:
            if branches > 1:
                self.stem = TwoBranchStem(in_channels, branches, width)
                self.inplanes = self.stem.out_channels
            else:
                self.stem = nn.Identity()
                self.inplanes = in_channels
            self.layer1 = nn.Identity()
            first_stride = 1
        else:
            if branches != 1:
                raise ValueError("branches > 1 applies to latent inputs (cResNets) only")
            self.inplanes = planes[0]
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, planes[0], 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(planes[0]),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
            self.layer1 = self._make_layer(Bottleneck, planes[0], spec.blocks[0])
            first_stride = 2
        # conv3_x stride 2 only on RGB; conv4_x stride 1 on latents already at image / 16.
        third_stride = 1 if spec.on_latents and latent_stride >= OUTPUT_STRIDE // 2 else 2
        self.layer2 = self._make_layer(Bottleneck, planes[1], spec.blocks[1], stride=first_stride)
        self.layer3 = self._make_layer(
            Bottleneck, planes[2], spec.blocks[2], third_stride, dilate=dilated
        )
        self.layer4 = self._make_layer(Bottleneck, planes[3], spec.blocks[3], 2, dilate=dilated)
        self.out_channels = planes[3] * Bottleneck.expansion
        self.input_stride = latent_stride if spec.on_latents else 1
        # Per-channel mean centering (App. A.4), set from the training data.
        self.register_buffer("input_mean", torch.zeros(1, in_channels * branches, 1, 1))
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        expected = self.input_mean.shape[1]
        if x.dim() != 4 or x.shape[1] != expected:
            raise ValueError(f"expected input (N, {expected}, H, W), got {tuple(x.shape)}")
        x = self.layer1(self.stem(x - self.input_mean))
        return self.layer4(self.layer3(self.layer2(x)))


def _init_like_torchvision(module: nn.Module) -> None:
    """torchvision's init with `zero_init_residual=True`: each block starts as the identity
    (Goyal et al. 2017, whose linear-scaling rule the paper's schedule uses), which keeps
    deep, narrow networks stable in their first steps."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    for m in module.modules():
        if isinstance(m, Bottleneck):
            nn.init.constant_(m.bn3.weight, 0)


class ResNetClassifier(nn.Module):
    """Backbone → global average pool → fc (the paper's 1000-way classifier)."""

    backbone: ResNetBackbone

    def __init__(self, backbone: ResNetBackbone, num_classes: int = 1000) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.out_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.backbone(x), 1), 1))
