"""Networks prepared for inference: batch norms folded into their convolutions, and
channels-last memory (oneDNN's and cuDNN's preferred layout for convolutions)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import Bottleneck

_BOTTLENECK_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """Fold, in place, every BatchNorm that directly follows a convolution: torchvision's
    Bottleneck (conv1/bn1 …) and any `nn.Sequential(conv, bn, …)` (stems, downsamples).
    Eval-mode arithmetic: the folded network computes the same function up to rounding."""
    for name, child in module.named_children():
        if isinstance(child, Bottleneck):
            for conv, bn in _BOTTLENECK_PAIRS:
                pair = getattr(child, conv), getattr(child, bn)
                assert isinstance(pair[0], nn.Conv2d) and isinstance(pair[1], nn.BatchNorm2d)
                setattr(child, conv, fuse_conv_bn_eval(*pair))
                setattr(child, bn, nn.Identity())
        elif isinstance(child, nn.Sequential):
            layers = list(child)
            for i in range(len(layers) - 1):
                conv_layer, bn_layer = layers[i], layers[i + 1]
                if isinstance(conv_layer, nn.Conv2d) and isinstance(bn_layer, nn.BatchNorm2d):
                    layers[i], layers[i + 1] = (
                        fuse_conv_bn_eval(conv_layer, bn_layer),
                        nn.Identity(),
                    )
            setattr(module, name, child := nn.Sequential(*layers))
        fold_batch_norms(child)
    return module


def for_inference(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """An eval-mode copy with batch norms folded and, by default, channels-last weights."""
    fast = fold_batch_norms(copy.deepcopy(model).eval())
    return fast.to(memory_format=torch.channels_last) if channels_last else fast
