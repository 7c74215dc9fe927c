"""DeepLab v2-style segmenters on RGB and on latents (Torfason et al. 2018, §5)."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nodecode.errors import CheckpointError
from nodecode.models.resnet import ResNetBackbone

ASPP_RATES = (6, 12, 18, 24)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling of DeepLab v2: parallel 3×3 atrous convolutions that
    each predict class scores, summed."""

    def __init__(self, in_channels: int, num_classes: int, rates=ASPP_RATES) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=r, dilation=r) for r in rates
        )
        for conv in self.branches:
            assert isinstance(conv, nn.Conv2d) and conv.bias is not None
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([branch(x) for branch in self.branches]).sum(0)


class DeepLabV2(nn.Module):
    """Dilated backbone → ASPP → bilinear upsampling to the image size.

    For a cResNet-d the input is the latent; the output is upsampled by the codec's stride
    (8 or 16) to the image it came from, unless `output_size` says otherwise (images whose
    sides are not a multiple of the stride).
    """

    backbone: ResNetBackbone

    def __init__(self, backbone: ResNetBackbone, num_classes: int = 21) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = ASPP(backbone.out_channels, num_classes)

    def forward(self, x: Tensor, output_size: tuple[int, int] | None = None) -> Tensor:
        if output_size is None:
            stride = self.backbone.input_stride
            output_size = (x.shape[-2] * stride, x.shape[-1] * stride)
        scores = self.head(self.backbone(x))
        return F.interpolate(scores, size=output_size, mode="bilinear", align_corners=False)


def init_from_classifier(segmenter: DeepLabV2, classifier_state: dict[str, Tensor]) -> int:
    """Copy a classification checkpoint's backbone into a segmenter (§5.3); returns the count.

    Dilation changes no weight shape, so every backbone tensor must match exactly.
    """
    own = segmenter.backbone.state_dict()
    source = {
        k[len("backbone.") :]: v for k, v in classifier_state.items() if k.startswith("backbone.")
    }
    if set(source) != set(own):
        missing, extra = sorted(set(own) - set(source)), sorted(set(source) - set(own))
        raise CheckpointError(
            f"classifier backbone does not match the segmenter's: missing {missing[:3]}, "
            f"unexpected {extra[:3]}"
        )
    for key, value in source.items():
        if value.shape != own[key].shape:
            raise CheckpointError(
                f"backbone tensor {key}: {tuple(value.shape)} vs "
                f"{tuple(own[key].shape)} (different width or input?)"
            )
    segmenter.backbone.load_state_dict(source)
    return len(source)


def load_classifier_into(segmenter: DeepLabV2, path: str | os.PathLike) -> int:
    from nodecode.utils.checkpoint import load_tensors

    tensors, _ = load_tensors(path, "classifier")
    return init_from_classifier(segmenter, tensors)
