"""What a plan costs before it runs: per-image MACs of each stage's network, and the
training total (≈ 3× forward for forward + backward, times the images seen)."""

from __future__ import annotations

from functools import cache

import torch

from nodecode.codec.config import operating_point
from nodecode.codec.zoo import SMALL_WIDTH
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.presets import ReproducePreset

# Training-set sizes of the paper's data (ImageNet train; VOC2012 train + SBD).
PAPER_TRAIN_SIZES = {"imagefolder": 1_281_167, "voc": 10_582}
PAPER_SIZES = {"classification": 224, "segmentation": 320}
CODEC_CROP, CODEC_BATCH = 224, 30
CLASSES = {  # keyed by "is fashion-scenes"
    True: {"classification": 10, "segmentation": 11},
    False: {"classification": 1000, "segmentation": 21},
}


def data_geometry(spec: str, task: str) -> tuple[int, int]:
    """(image side, training images) of a dataset spec."""
    kind, _, rest = spec.partition(":")
    if kind == "fashion-scenes":
        from nodecode.data.fashion_scenes import preset

        config = preset(rest)
        return config.image_size, config.train_size
    return PAPER_SIZES[task], PAPER_TRAIN_SIZES[kind]


@cache
def network_macs(model: str, width: float, in_channels: int, side: int, classes: int) -> int:
    from nodecode.evaluate.cost import count_macs
    from nodecode.models import create

    net = create(model, num_classes=classes, in_channels=in_channels, width=width)
    return count_macs(net, torch.zeros(1, in_channels, side, side))


@cache
def codec_macs(op: str, width: float, side: int) -> int:
    from nodecode.codec.autoencoder import ConvAutoencoder
    from nodecode.evaluate.cost import count_macs

    codec = ConvAutoencoder(operating_point(op).codec_config(width=width))
    with torch.no_grad():
        x = torch.zeros(1, 3, side, side)
        return count_macs(codec.g_a, x) + count_macs(codec.g_s, codec.analysis(x))


def _op(stage: Stage) -> str:
    """The operating point in a stage's name (`cls-0.330-cresnet51-s0` → `0.330`)."""
    return next(part for part in stage.name.split("-") if part.startswith("0."))


def estimate(stage: Stage, preset: ReproducePreset) -> tuple[float, float]:
    """(forward MACs per image, training MACs) of one stage; (0, 0) where negligible."""
    p = stage.params
    if stage.kind in ("classifier", "segmenter"):
        side, images = data_geometry(p["data"], p["task"])
        latent = p["input"] == "latent"
        channels = operating_point(_op(stage)).latent_channels if latent else 3
        classes = CLASSES[p["data"].startswith("fashion-scenes")][p["task"]]
        forward = network_macs(
            p["model"], p["width"], channels, side // 8 if latent else side, classes
        )
        if stage.kind == "classifier":
            seen = p["epochs"] * images
        else:
            seen = p["iters"] * (p["batch_size"] or 10)
        return forward, 3.0 * forward * seen
    if stage.kind == "codec" and "op" in p:
        forward = codec_macs(p["op"], 1.0, CODEC_CROP)
        return forward, 3.0 * forward * CODEC_BATCH * p["max_steps"]
    if stage.kind == "joint":
        side, images = data_geometry(p["data"], "classification")
        op = _op(stage)
        width = SMALL_WIDTH if preset.codec_prefix == "small" else 1.0
        forward = codec_macs(op, width, side)
        if p["mode"] == "joint":
            channels = operating_point(op).latent_channels
            forward += network_macs("cresnet51", preset.width, channels, side // 8, 10)
        return forward, 3.0 * forward * images * p["epochs"]
    return 0.0, 0.0
