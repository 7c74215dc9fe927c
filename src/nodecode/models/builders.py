"""One-line builders for every network, registered by name (`resnet50`, `cresnet51-d`, …)."""

from __future__ import annotations

from functools import partial

from torch import nn

from nodecode.models.registry import register
from nodecode.models.resnet import LATENT_STRIDE, SPECS, ResNetBackbone, ResNetClassifier
from nodecode.models.segmentation import DeepLabV2

DEFAULT_LATENT_CHANNELS = 32  # the 0.635 bpp operating point


def backbone(
    name: str,
    in_channels: int | None,
    width: float,
    dilated: bool,
    branches: int,
    latent_stride: int = LATENT_STRIDE,
) -> ResNetBackbone:
    """RGB networks default to 3 input channels, cResNets to the 0.635 bpp latent's 32."""
    spec = SPECS[name]
    channels = in_channels or (DEFAULT_LATENT_CHANNELS if spec.on_latents else 3)
    return ResNetBackbone(spec, channels, width, dilated, branches, latent_stride)


def classifier(
    name: str,
    num_classes: int = 1000,
    in_channels: int | None = None,
    width: float = 1.0,
    branches: int = 1,
    latent_stride: int = LATENT_STRIDE,
) -> nn.Module:
    features = backbone(name, in_channels, width, False, branches, latent_stride)
    return ResNetClassifier(features, num_classes)


def segmenter(
    name: str,
    num_classes: int = 21,
    in_channels: int | None = None,
    width: float = 1.0,
    branches: int = 1,
    latent_stride: int = LATENT_STRIDE,
) -> nn.Module:
    return DeepLabV2(backbone(name, in_channels, width, True, branches, latent_stride), num_classes)


def reads_latents(name: str) -> bool:
    """Whether the registered network `name` (classifier or `-d` segmenter) is a cResNet."""
    return SPECS[name.removesuffix("-d")].on_latents


for _name in SPECS:
    register(_name)(partial(classifier, _name))
    register(f"{_name}-d")(partial(segmenter, _name))
