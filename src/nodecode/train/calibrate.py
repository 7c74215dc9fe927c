"""Rate calibration: fine-tune a codec until its files land on the nominal bpp.

Training holds the hard entropy of *training* crops at Ht; a file on a held-out photo
costs that entropy under tables fitted to other images, plus the header. Calibration
measures bpp from real file bytes on validation photos and moves Ht towards the nominal
rate, fine-tuning a few hundred steps per round, until the rate is within tolerance. The
first step rescales Ht by nominal / measured; later steps follow the secant through the
last two rounds, since bpp is not proportional to Ht (the header and the tables' mismatch
on unseen photos add an offset). If no round lands within tolerance, the round closest to
nominal is kept. Rates are measured on validation or training photos, never the test
photos; on training photos, `folds` cross-fits the tables so the rate is out-of-sample.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import load_codec_checkpoint, read_codec_info, save_codec
from nodecode.codec.config import operating_point
from nodecode.codec.files import compressed_bytes
from nodecode.data.crops import training_crops
from nodecode.errors import ConfigError
from nodecode.train.codec import (
    CodecTrainConfig,
    correct_color_cast,
    train_codec,
    with_tables,
)

logger = logging.getLogger(__name__)

# Ht changes by at most this factor per round: a codec whose rate is limited by distortion
# rather than by the hinge would otherwise have its target run away.
MAX_STEP = 1.5
CALIBRATION_KEYS = (
    "calibration",
    "calibration_images",
    "calibration_kept_round",
    "calibration_folds",
    "calibration_color_cast_removed",
)


def next_target_entropy(history: list[dict], nominal: float) -> float:
    """Ht for the next round: the secant through the last two rounds where it slopes up,
    else a proportional step; never more than MAX_STEP away from the current Ht."""
    ht, bpp = history[-1]["target_entropy"], history[-1]["bpp"]
    proposal = ht * nominal / bpp
    if len(history) >= 2:
        prev_ht, prev_bpp = history[-2]["target_entropy"], history[-2]["bpp"]
        if ht != prev_ht and (slope := (bpp - prev_bpp) / (ht - prev_ht)) > 0:
            proposal = ht + (nominal - bpp) / slope
    return min(ht * MAX_STEP, max(ht / MAX_STEP, proposal))


def closest_round(history: list[dict], nominal: float) -> int:
    return min(range(len(history)), key=lambda i: abs(history[i]["bpp"] - nominal))


@dataclass(frozen=True)
class CalibrationConfig:
    tolerance: float = 0.03
    rounds: int = 4
    steps: int = 300
    lr: float = 1e-4
    folds: int = 0  # k > 0: rate of each image under tables fitted on the other folds


def file_bpp(codec: ConvAutoencoder, image: Tensor) -> float:
    """One `.ndc` file's bytes × 8 / pixels."""
    return len(compressed_bytes(codec, image)) * 8 / (image.shape[-2] * image.shape[-1])


def measured_bpp(codec: ConvAutoencoder, images: dict[str, Tensor], folds: int = 0) -> float:
    """Mean bpp of the images' files. With `folds`, each file is coded under tables fitted
    on the other folds' images (`held_out_rates`), as a photo the tables never saw would be."""
    if folds:
        return float(np.mean(list(held_out_rates(codec, images, folds).values())))
    return float(np.mean([file_bpp(codec, x) for x in images.values()]))


@torch.no_grad()
def held_out_rates(
    codec: ConvAutoencoder, images: dict[str, Tensor], folds: int
) -> dict[str, float]:
    """bpp of each image's file under tables fitted on the images of the other folds.

    Tables fitted on the very photos they then code flatter the rate (in context there is a
    table per pass, channel and neighbourhood): the shipped codecs' files on the 15 training
    photos are 4 % smaller in-sample than cross-fitted. Cross-fitting measures an
    out-of-sample rate on training photos alone."""
    names = sorted(images)
    if not 2 <= folds <= len(names):
        raise ConfigError(f"--folds {folds}: needs 2 to {len(names)} (one per image at most)")
    device = next(codec.parameters()).device
    codec.eval()
    symbols = {n: codec.encode(images[n].unsqueeze(0).to(device)).cpu() for n in names}
    rates: dict[str, float] = {}
    for fold in range(folds):
        held_out = names[fold::folds]
        fitted = with_tables(codec, (symbols[n] for n in names if n not in held_out))
        rates |= {n: file_bpp(fitted, images[n]) for n in held_out}
    return rates


def calibrate_rate(
    codec_path: str | Path,
    train: CodecTrainConfig,
    images: dict[str, Tensor],
    out: str | Path,
    config: CalibrationConfig = CalibrationConfig(),
    device: str = "cpu",
) -> list[dict]:
    """Write the calibrated codec to `out`, its header's training record extended with the
    calibration rounds (Ht, measured bpp) and the round kept; returns those rounds."""
    out = Path(out)
    nominal = operating_point(train.op).bpp
    history: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [Path(tmp) / "round-0.safetensors"]
        shutil.copyfile(codec_path, rounds[0])
        for round_index in range(config.rounds + 1):
            codec = load_codec_checkpoint(rounds[-1], device)
            bpp = measured_bpp(codec, images, config.folds)
            ht = codec.config.target_entropy
            history.append({"round": round_index, "target_entropy": ht, "bpp": bpp})
            logger.info(
                "calibration round %d: Ht=%.4f → %.4f bpp (%s)", round_index, ht, bpp, nominal
            )
            if abs(bpp / nominal - 1.0) <= config.tolerance or round_index == config.rounds:
                break
            tuned = dataclasses.replace(
                train,
                target_entropy=next_target_entropy(history, nominal),
                max_steps=config.steps,
                lr=config.lr,
                lr_decay_fraction=0.0,
                seed=train.seed + round_index + 1,
            )
            rounds.append(Path(tmp) / f"round-{round_index + 1}.safetensors")
            train_codec(tuned, rounds[-1], device=device, init=rounds[-2])
        best = closest_round(history, nominal)
        training = dict(read_codec_info(codec_path).training)
        if "calibration" in training:  # a codec calibrated before: keep that record too
            earlier = {k: training.pop(k) for k in CALIBRATION_KEYS if k in training}
            training.setdefault("earlier_calibrations", []).append(earlier)
        training["calibration"] = history
        training["calibration_images"] = sorted(images)
        training["calibration_folds"] = config.folds
        training["calibration_kept_round"] = best
        codec = load_codec_checkpoint(rounds[best], device)
        # The decoder's colour cast, removed on training crops (a no-op if rounds already did).
        crops = training_crops(train.data, train.crop, train.min_scale, train.seed)
        cast = correct_color_cast(codec, crops, train.table_batches, train.batch_size)
        training["calibration_color_cast_removed"] = [round(v, 3) for v in cast.tolist()]
        save_codec(codec, out, training=training)
    return history
