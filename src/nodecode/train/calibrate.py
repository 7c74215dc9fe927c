"""Rate calibration: fine-tune a codec until its files land on the nominal bpp.

Training holds the hard entropy of *training* crops at Ht; a file on a held-out photo
costs that entropy under tables fitted to other images, plus the header. Calibration
measures bpp from real file bytes on validation photos and rescales Ht by
nominal / measured, fine-tuning a few hundred steps per round, until the rate is within
tolerance. Only validation photos are used, never the test photos.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import KIND, load_codec_checkpoint, save_codec
from nodecode.codec.config import operating_point
from nodecode.codec.files import compress_image
from nodecode.data.crops import RandomCrops, training_images
from nodecode.train.codec import CodecTrainConfig, correct_color_cast, train_codec
from nodecode.utils.checkpoint import read_meta

# Ht changes by at most this factor per round: a codec whose rate is limited by distortion
# rather than by the hinge would otherwise have its target run away.
MAX_STEP = 1.5


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
    calibration rounds (Ht, measured bpp); returns those rounds."""
    out = Path(out)
    nominal = operating_point(train.op).bpp
    history: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        current = Path(tmp) / "round-0.safetensors"
        shutil.copyfile(codec_path, current)
        for round_index in range(config.rounds + 1):
            codec = load_codec_checkpoint(current, device)
            bpp = measured_bpp(codec, images)
            ht = codec.config.target_entropy
            history.append({"round": round_index, "target_entropy": ht, "bpp": bpp})
            print(f"calibration round {round_index}: Ht={ht:.4f} → {bpp:.4f} bpp ({nominal})")
            if abs(bpp / nominal - 1.0) <= config.tolerance or round_index == config.rounds:
                break
            tuned = dataclasses.replace(
                train,
                target_entropy=ht * min(MAX_STEP, max(1 / MAX_STEP, nominal / bpp)),
                max_steps=config.steps,
                lr=config.lr,
                lr_decay_fraction=0.0,
                seed=train.seed + round_index + 1,
            )
            following = Path(tmp) / f"round-{round_index + 1}.safetensors"
            train_codec(tuned, following, device=device, init=current)
            current = following
        training = json.loads(read_meta(codec_path, KIND).get("training", "{}"))
        training["calibration"] = history
        codec = load_codec_checkpoint(current, device)
        # The decoder's colour cast, removed on training crops (a no-op if rounds already did).
        crops = RandomCrops(training_images(train.data), train.crop, length=1 << 30)
        cast = correct_color_cast(codec, crops, train.table_batches, train.batch_size)
        training["calibration_color_cast_removed"] = [round(v, 3) for v in cast.tolist()]
        save_codec(codec, out, training=training)
    return history
