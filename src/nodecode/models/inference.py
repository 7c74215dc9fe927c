"""Networks prepared for inference: batch norms folded into their convolutions,
channels-last memory (oneDNN's and cuDNN's preferred layout for convolutions), and on request
compiled with frozen weights."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.resnet import Bottleneck

from nodecode.errors import ConfigError

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


# Compiled graphs one Python function may hold before dynamo falls back to eager (torch: 8).
GRAPHS_PER_FUNCTION = 64


class FrozenCompiled(nn.Module):
    """`torch.compile` (inductor) with its weights frozen as constants: convolutions get
    prepacked weights and fused ReLU/add epilogues, which is what pays on a CPU at small
    batches (docs/RESULTS.md §7). Inductor reads its `freezing` switch when it compiles, and
    it compiles again for every new input shape, so the switch is set around every call
    rather than once. Dynamo keeps its compiled graphs per Python function, and every network
    of one class shares its `forward`: past 8 graphs (networks × input shapes) it would
    silently run the rest eagerly, so the limit is raised with the switch. Inference only:
    frozen weights carry no gradient."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.compiled = torch.compile(module, dynamic=False)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config
        from torch._dynamo.exc import BackendCompilerFailed

        try:
            with (
                inductor_config.patch(freezing=True),
                dynamo_config.patch(recompile_limit=GRAPHS_PER_FUNCTION),
            ):
                return self.compiled(*args, **kwargs)
        except BackendCompilerFailed as error:  # e.g. no C++ compiler on this machine
            cause = str(error.inner_exception).strip().splitlines() or ["unknown error"]
            raise ConfigError(
                f"--compile: torch.compile could not compile the network ({cause[0][:200]}); "
                "run without --compile"
            ) from None


def for_inference(model: nn.Module, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """An eval-mode copy with batch norms folded, by default channels-last weights, and with
    `compile` frozen and compiled (the first call of each input shape compiles: seconds)."""
    fast = fold_batch_norms(copy.deepcopy(model).eval())
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    return FrozenCompiled(fast) if compile else fast
