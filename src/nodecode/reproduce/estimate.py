"""What a plan costs before it runs: per-image MACs of each stage's network, the training
total (≈ 3× forward for forward + backward, times the images seen), the disk its latent
caches take, and accelerator hours at an assumed effective rate."""

from __future__ import annotations

from functools import cache
from typing import Any

import torch

from nodecode.codec.config import operating_point
from nodecode.codec.zoo import SMALL_WIDTH
from nodecode.data.latent_cache import SHARD_SIZE
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.presets import ReproducePreset

# Training-set sizes of the paper's data (ImageNet train; VOC2012 train + SBD), and the
# evaluation sets (ImageNet val; VOC2012 val).
PAPER_TRAIN_SIZES = {"imagefolder": 1_281_167, "voc": 10_582}
PAPER_TEST_SIZES = {"imagefolder": 50_000, "voc": 1_449}
# An assumption, not a measurement: MLPerf's tuned ResNet-50 training reaches about 90
# TMAC/s per H100 (3 × 4.1 GMACs × images per second); a plain PyTorch pipeline with bf16
# and channels-last, about two thirds of that.
H100_MACS_PER_S = 60e12
PAPER_SIZES = {"classification": 224, "segmentation": 320}
CODEC_CROP, CODEC_BATCH = 224, 30
CLASSES = {  # keyed by "is fashion-scenes"
    True: {"classification": 10, "segmentation": 11},
    False: {"classification": 1000, "segmentation": 21},
}


def data_geometry(spec: str, task: str, split: str = "train") -> tuple[int, int]:
    """(image side, images in `split`) of a dataset spec."""
    kind, _, rest = spec.partition(":")
    if kind == "fashion-scenes":
        from nodecode.data.fashion_scenes import preset

        config = preset(rest)
        return config.image_size, config.size(split)
    sizes = PAPER_TRAIN_SIZES if split == "train" else PAPER_TEST_SIZES
    return PAPER_SIZES[task], sizes[kind]


@cache
def network_macs(model: str, width: float, in_channels: int, side: int, classes: int) -> int:
    from nodecode.evaluate.cost import count_macs
    from nodecode.models import create

    net = create(model, num_classes=classes, in_channels=in_channels, width=width)
    return count_macs(net, torch.zeros(1, in_channels, side, side))


def network_of(stage: Stage) -> dict[str, Any]:
    """A classifier or segmenter stage's network, from its settings alone: enough to count
    its MACs (`network_macs`) without its weights."""
    p = stage.params
    latent = p["input"] == "latent"
    return {
        "model": p["model"],
        "width": p["width"],
        "in_channels": operating_point(_op(stage)).latent_channels if latent else 3,
        "num_classes": CLASSES[p["data"].startswith("fashion-scenes")][p["task"]],
        "on_latents": latent,
    }


def codec_macs(op: str, width: float, side: int) -> int:
    """Encoder and decoder, one image."""
    return sum(_codec_parts_macs(op, width, side))


def encoder_macs(op: str, width: float, side: int) -> int:
    return _codec_parts_macs(op, width, side)[0]


def decoder_macs(op: str, width: float, side: int) -> int:
    return _codec_parts_macs(op, width, side)[1]


@cache
def _codec_parts_macs(op: str, width: float, side: int) -> tuple[int, int]:
    from nodecode.codec.autoencoder import ConvAutoencoder
    from nodecode.evaluate.cost import count_macs

    codec = ConvAutoencoder(operating_point(op).codec_config(width=width))
    with torch.no_grad():
        x = torch.zeros(1, 3, side, side)
        return count_macs(codec.g_a, x), count_macs(codec.g_s, codec.analysis(x))


def _codec_width(preset: ReproducePreset) -> float:
    """The width of the codecs a preset's stages encode and decode with."""
    return SMALL_WIDTH if preset.codec_prefix == "small" else 1.0


def _op(stage: Stage) -> str:
    """The operating point a stage works at, which its plan recorded."""
    if stage.op is None:
        raise ValueError(f"stage {stage.name} works at no operating point")
    return stage.op


def _encode_jobs(stage: Stage) -> list[tuple[str, int, int]]:
    """(task, image side, images) for each task and split an encode stage writes."""
    jobs = []
    for task in ("classification", "segmentation"):
        for split in ("train", "test"):
            side, count = data_geometry(stage.params[task], task, split)
            size = stage.params.get(f"{task}_size") or stage.params.get("image_size")
            jobs.append((task, size or side, count))
    return jobs


def _target_bytes(task: str, side: int) -> int:
    return side * side if task == "segmentation" else 8  # masks as bytes, labels as int64


def storage_bytes(stage: Stage) -> int:
    """Disk an encode stage's latent cache takes: per image the symbols (1 byte each), the
    decoded RGB (3 bytes a pixel) unless the stage leaves it out, and the target."""
    if stage.kind != "encode":
        return 0
    channels = operating_point(_op(stage)).latent_channels
    total = 0
    for task, side, count in _encode_jobs(stage):
        total += count * (_item_bytes(stage, channels, side) + _target_bytes(task, side))
    return total


def _item_bytes(stage: Stage, channels: int, side: int) -> int:
    """An encoded image's symbols and, where the cache keeps it, its decoded RGB."""
    rgb = 3 if stage.params.get("store_decoded", True) else 0
    return channels * (side // 8) ** 2 + rgb * side * side


def memory_bytes(stage: Stage, batch: int = 256) -> int:
    """Host RAM a stage holds for its data, beyond the networks and the process itself:
    caches are memory-mapped and read per item, so only their targets stay in memory (and
    an encode stage's one shard being written); images from folders stream through the
    DataLoader, `batch` at a time (a generous bound on what is in flight)."""
    if stage.kind == "encode":
        channels = operating_point(_op(stage)).latent_channels
        side = max(side for _, side, _ in _encode_jobs(stage))
        return SHARD_SIZE * (
            _item_bytes(stage, channels, side) + _target_bytes("segmentation", side)
        )
    p = stage.params
    if stage.kind not in ("classifier", "segmenter") or "data" not in p:
        return 0
    side, images = data_geometry(p["data"], p["task"])
    in_flight = batch * 4 * 3 * side * side  # float32 images
    if p["input"] == "rgb":
        return in_flight
    test_side, test_images = data_geometry(p["data"], p["task"], "test")
    targets = images * _target_bytes(p["task"], side)
    return targets + test_images * _target_bytes(p["task"], test_side) + in_flight


def estimate(stage: Stage, preset: ReproducePreset) -> tuple[float, float]:
    """(forward MACs per image, total MACs: training, or encoding for encode stages)."""
    p = stage.params
    if stage.kind == "encode":
        width = _codec_width(preset)
        # One encode pass, and a decode pass where the cache keeps the decoded images.
        macs = codec_macs if p.get("store_decoded", True) else encoder_macs
        per_image = {side: macs(_op(stage), width, side) for _, side, _ in _encode_jobs(stage)}
        total = sum(per_image[side] * count for _, side, count in _encode_jobs(stage))
        return max(per_image.values()), float(total)
    if stage.kind in ("classifier", "segmenter"):
        side, images = data_geometry(p["data"], p["task"])
        net = network_of(stage)
        forward = network_macs(
            net["model"],
            net["width"],
            net["in_channels"],
            side // 8 if net["on_latents"] else side,
            net["num_classes"],
        )
        if stage.kind == "classifier":
            seen = p["epochs"] * images
        else:
            seen = p["iters"] * (p["batch_size"] or 10)
        # Decoded images not in the cache are decoded for every batch (no backward pass).
        decoding = 0
        if p["input"] == "decoded" and not preset.store_decoded:
            decoding = decoder_macs(_op(stage), _codec_width(preset), side)
        return forward + decoding, (3.0 * forward + decoding) * seen
    if stage.kind == "codec" and "op" in p:
        forward = codec_macs(p["op"], 1.0, CODEC_CROP)
        return forward, 3.0 * forward * CODEC_BATCH * p["max_steps"]
    if stage.kind == "joint":
        side, images = data_geometry(p["data"], "classification")
        op = _op(stage)
        forward = codec_macs(op, _codec_width(preset), side)
        if p["mode"] == "joint":
            channels = operating_point(op).latent_channels
            forward += network_macs("cresnet51", preset.width, channels, side // 8, 10)
        return forward, 3.0 * forward * images * p["epochs"]
    return 0.0, 0.0
