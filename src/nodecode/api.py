"""The library in two calls: `classify` and `segment` from `.ndc` files or image tensors.

    import nodecode
    nodecode.classify(["a.ndc", "b.ndc"], model="cresnet51-0.330")       # no decoding
    nodecode.segment([image], model="cresnet51-d-0.330")                  # (3, H, W) in [0, 1]

`.ndc` files are read straight to their latent; images (tensors or image files) are first
encoded with the codec the model was trained on (named in its checkpoint), and the network
reads the latent exactly as it would from a file.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn

from nodecode.codec.zoo import Codec
from nodecode.errors import ConfigError
from nodecode.utils.precision import autocast

if TYPE_CHECKING:
    from nodecode.models.checkpoint import TaskModelInfo

Input = str | os.PathLike | Tensor


def classify(
    inputs: Sequence[Input],
    model: str | os.PathLike,
    codec: str | None = None,
    top: int = 5,
    batch_size: int = 16,
    device: str = "cpu",
    workers: int = 0,
    precision: str = "fp32",
    compile: bool = False,
) -> list[list[tuple[str, float]]]:
    """The `top` (label, probability) pairs of each input, best first. `workers` entropy-decode
    `.ndc` files in that many processes; `precision="bf16"` runs the network in bf16;
    `compile=True` compiles it with frozen weights (seconds per input shape, then faster)."""
    network, info = _load(model, "classification", device, compile)
    names = info.class_names
    answers = []
    options = _Options(batch_size, device, workers, precision)
    for probs in _probabilities(network, info, inputs, codec, options):
        best = probs.topk(min(top, len(probs)))
        pairs = zip(best.indices.tolist(), best.values.tolist(), strict=True)
        answers.append([(names[i], p) for i, p in pairs])
    return answers


def segment(
    inputs: Sequence[Input],
    model: str | os.PathLike,
    codec: str | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    workers: int = 0,
    precision: str = "fp32",
    compile: bool = False,
) -> list[Tensor]:
    """A class-index mask (H, W) per input, at the input image's size (options as `classify`)."""
    network, info = _load(model, "segmentation", device, compile)
    options = _Options(batch_size, device, workers, precision)
    probabilities = _probabilities(network, info, inputs, codec, options)
    return [probs.argmax(0) for probs in probabilities]


def _load(
    model: str | os.PathLike, task: str, device: str, compile: bool
) -> tuple[nn.Module, TaskModelInfo]:
    from nodecode.models.inference import for_inference
    from nodecode.models.zoo import load_task

    network, info = load_task(str(model), device)
    if info.task != task:
        raise ConfigError(f"{model}: is a {info.task} model, not a {task} one")
    if info.input != "latent":
        raise ConfigError(f"{model}: reads {info.input} images; the API runs latent models")
    return for_inference(network, compile=compile), info


def _codec(info: TaskModelInfo, spec: str | None, device: str) -> Codec:
    from nodecode.codec.zoo import cached_codec, knows_codec

    spec = spec or info.codec
    if not spec or (not knows_codec(spec) and not Path(spec).is_file()):
        raise ConfigError(
            f"the model was trained on codec {info.codec!r}, which is not shipped; "
            "pass its checkpoint as codec=..."
        )
    return cached_codec(spec, device)


class _Options(NamedTuple):
    batch_size: int
    device: str
    workers: int
    precision: str


def _probabilities(
    network: nn.Module,
    info: TaskModelInfo,
    inputs: Sequence[Input],
    codec_spec: str | None,
    options: _Options,
) -> Iterator[Tensor]:
    """Inputs in order: runs of `.ndc` files batched through `predict_files`, images encoded."""
    from nodecode.codec.zoo import codec_for_file
    from nodecode.inference import decoding_device, predict_files

    def is_file(item: Input) -> bool:
        return not isinstance(item, Tensor) and Path(item).suffix.lower() == ".ndc"

    for files, run in itertools.groupby(inputs, key=is_file):
        if files:
            paths = [Path(p) for p in run if not isinstance(p, Tensor)]
            decode_on = decoding_device(options.device, options.workers)
            pairs = ((p, codec_for_file(p, codec_spec, decode_on)) for p in paths)
            predictions = predict_files(
                network, info, pairs, options.batch_size, options.workers, options.precision
            )
            yield from (probs for _, _, probs in predictions)
        else:
            codec = _codec(info, codec_spec, options.device)
            for image in run:
                yield _predict_image(network, info, image, codec, options.precision)


@torch.no_grad()
def _predict_image(
    network: nn.Module, info: TaskModelInfo, image: Input, codec: Codec, precision: str
) -> Tensor:
    from nodecode.data.images import load_image
    from nodecode.inference import check_model_codec, image_latent

    check_model_codec(info, codec, "image")
    x = image if isinstance(image, Tensor) else load_image(image)
    if x.dim() != 3 or x.shape[0] != 3:
        raise ConfigError(f"an image must be a (3, H, W) tensor in [0, 1], got {tuple(x.shape)}")
    device = next(network.parameters()).device
    latent = image_latent(codec, x[None].to(device), info.input)
    kwargs = {"output_size": tuple(x.shape[-2:])} if info.task == "segmentation" else {}
    with autocast(device, precision):
        scores = network(latent, **kwargs)[0].float()
    return scores.softmax(0).cpu()
