"""Rate calibration: fine-tune a codec until its files land on the nominal bpp.

Training holds the hard entropy of *training* crops at Ht; a file on a held-out photo
costs that entropy under tables fitted to other images, plus the header. Calibration
measures bpp from real file bytes on validation photos and moves Ht towards the nominal
rate, fine-tuning a few hundred steps per round, until the rate is within tolerance. The
first step rescales Ht by nominal / measured; later steps follow the secant through the
last two rounds, since bpp is not proportional to Ht (the header and the tables' mismatch
on unseen photos add an offset). If no round lands within tolerance, the round closest to
nominal is kept. Only validation photos are used, never the test photos.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import load_codec_checkpoint, read_codec_info, save_codec
from nodecode.codec.config import operating_point
from nodecode.codec.files import compress_image
from nodecode.data.crops import training_crops
from nodecode.train.codec import CodecTrainConfig, correct_color_cast, train_codec

logger = logging.getLogger(__name__)

# Ht changes by at most this factor per round: a codec whose rate is limited by distortion
# rather than by the hinge would otherwise have its target run away.
MAX_STEP = 1.5
CALIBRATION_KEYS = (
    "calibration",
    "calibration_images",
    "calibration_kept_round",
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


def measured_bpp(codec: ConvAutoencoder, images: dict[str, Tensor]) -> float:
    """Mean over images of each `.ndc` file's bytes × 8 / pixels."""
    with tempfile.TemporaryDirectory() as tmp:
        rates = [compress_image(codec, x, Path(tmp) / f"{n}.ndc").bpp for n, x in images.items()]
    return float(np.mean(rates))


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
            bpp = measured_bpp(codec, images)
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
        training["calibration_kept_round"] = best
        codec = load_codec_checkpoint(rounds[best], device)
        # The decoder's colour cast, removed on training crops (a no-op if rounds already did).
        crops = training_crops(train.data, train.crop, train.min_scale, train.seed)
        cast = correct_color_cast(codec, crops, train.table_batches, train.batch_size)
        training["calibration_color_cast_removed"] = [round(v, 3) for v in cast.tolist()]
        save_codec(codec, out, training=training)
    return history
