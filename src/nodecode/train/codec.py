"""Codec training with Eq. 1 (App. A.1): Adam, periodic checkpoints, exact resume."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import save_codec
from nodecode.codec.config import CodecConfig, operating_point
from nodecode.codec.loss import rate_distortion_loss
from nodecode.data.crops import MultiScaleCrops, RandomCrops, crop_batches, training_crops
from nodecode.errors import CheckpointError
from nodecode.train import schedules
from nodecode.train.engine import Optimization, StepLog, StepSchedule, train_steps
from nodecode.train.runtime import (
    device_name,
    prepare_device,
    previous_wall_clock,
    resume_or_start,
    run_paths,
)
from nodecode.train.schedules import replayed
from nodecode.train.state import save_train_state
from nodecode.utils.precision import autocast, check_precision


@dataclass
class CodecTrainConfig:
    """Defaults are the paper's (batch 30, 600k Adam steps, lr per operating point)."""

    op: str = "0.635"
    data: str = "skimage:train"
    width: float = 1.0
    crop: int = 224
    batch_size: int = 30
    lr: float | None = None
    max_steps: int = 600_000
    checkpoint_every: int = 1000
    log_every: int = 25
    table_batches: int = 20
    seed: int = 0
    name: str = "custom"
    # bf16 autocast: 3–4× faster on CPUs with AMX and on GPUs; weights and Adam stay fp32,
    # and quantization, rate and loss are computed in fp32.
    precision: str = "fp32"
    # lr ÷10 for the last `lr_decay_fraction` of the steps (0: the paper's constant lr).
    lr_decay_fraction: float = 0.0
    # Target entropy Ht override, e.g. after calibrating a codec's rate on held-out photos.
    target_entropy: float | None = None
    # Multi-scale crops drawn afresh from whole photos (data/crops.py) when set: the smallest
    # downscaling factor. None: fixed-size crops of the images as they are.
    min_scale: float | None = None
    # DataLoader workers drawing multi-scale crops (a GPU needs several).
    workers: int = 0
    # Stop cleanly after this many seconds of this invocation (state and codec written), so
    # a run can proceed in chunks on a machine lent for minutes; --resume continues it.
    time_limit: float | None = None
    # Entropy coding in context (CodecConfig.context_levels): the same latent in 15–27 %
    # fewer bits on photos; 0 codes every symbol under its channel's table, as the paper.
    context_levels: int = 2

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else operating_point(self.op).lr

    def schedule(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        return schedules.final_decay(optimizer, self.max_steps, self.lr_decay_fraction)

    def step_schedule(self) -> StepSchedule:
        return StepSchedule(self.max_steps, self.log_every, self.checkpoint_every, self.time_limit)

    def codec_config(self) -> CodecConfig:
        overrides: dict = {"context_levels": self.context_levels}
        if self.target_entropy is not None:
            overrides["target_entropy"] = self.target_entropy
        return operating_point(self.op).codec_config(width=self.width, **overrides)


# CSV column → loss term, as train_steps logs them.
LOG_COLUMNS = {
    "loss": "loss",
    "mse": "mse",
    "entropy_bits": "entropy_bits",
    "bpp_estimate": "bpp_estimate",
}


@torch.no_grad()
def fit_tables(
    codec: ConvAutoencoder, dataset: RandomCrops | MultiScaleCrops, batches: int, batch_size: int
) -> None:
    """Count symbols on training crops and freeze the integer probability tables."""
    device = next(codec.parameters()).device
    codec.eval()
    codec.fit_tables(codec.encode(dataset.batch(batch_size, device)) for _ in range(batches))


@torch.no_grad()
def refit_tables(
    source: ConvAutoencoder, images: dict[str, Tensor], context_levels: int | None = None
) -> ConvAutoencoder:
    """The same codec (weights, latents) with its tables fitted afresh on whole images,
    optionally coding in context at `context_levels` (e.g. to add it to a trained codec)."""
    device = next(source.parameters()).device
    source.eval()
    symbols = (
        source.encode(image.unsqueeze(0).to(device)) for image in tqdm(images.values(), "tables")
    )
    return with_tables(source, symbols, context_levels)


def with_tables(
    source: ConvAutoencoder, symbol_batches: Iterable[Tensor], context_levels: int | None = None
) -> ConvAutoencoder:
    """A copy of `source` (weights, latents) whose tables are fitted on these symbols."""
    levels = source.config.context_levels if context_levels is None else context_levels
    config = CodecConfig.from_dict({**dataclasses.asdict(source.config), "context_levels": levels})
    codec = ConvAutoencoder(config, source.name)
    codec.load_state_dict(source.learned_state(), strict=False)
    codec.to(next(source.parameters()).device).eval()
    codec.fit_tables(symbol_batches)
    return codec


@torch.no_grad()
def correct_color_cast(
    codec: ConvAutoencoder, dataset: RandomCrops | MultiScaleCrops, batches: int, batch_size: int
) -> Tensor:
    """Remove the decoder's mean per-colour error on training crops; returns it (levels).

    MSE training leaves a small constant offset per colour (a cast of a few 8-bit levels
    after short runs); shifting the last bias by it costs nothing at decode time.
    """
    device = next(codec.parameters()).device
    codec.eval()
    total = torch.zeros(3, dtype=torch.float64)
    for _ in range(batches):
        x = dataset.batch(batch_size, device)
        total += (codec(x).x_hat.clamp(0, 1) - x).mean(dim=(0, 2, 3)).double().cpu()
    cast = total / batches
    codec.shift_output(-cast.float())
    return cast * 255


def train_codec(
    config: CodecTrainConfig,
    out: str | Path,
    resume: bool = False,
    device: str = "cpu",
    init: str | Path | None = None,
) -> ConvAutoencoder:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state_path, log_path = run_paths(out)
    dev = torch.device(device)
    prepare_device(dev)
    torch.manual_seed(config.seed)
    check_precision(config.precision)
    codec = ConvAutoencoder(config.codec_config(), name=config.name).to(dev)
    codec.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(codec.parameters(), lr=config.learning_rate())
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    dataset = training_crops(config.data, config.crop, config.min_scale, config.seed)
    record = dataclasses.asdict(config)
    step, saved = resume_or_start(
        (state_path, log_path), codec, optimizer, config, resume, extra=("init",)
    )
    if saved is not None:
        init = saved.get("init")  # where step 0's weights came from
    elif init is not None:
        load_weights_from(codec, init)
    previous = previous_wall_clock(log_path)
    scheduler = replayed(config.schedule, optimizer, base_lrs, step)

    codec.train()

    def objective(x: Tensor) -> dict[str, Tensor]:
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, config.precision):
            output = codec(x)
            loss, mse = rate_distortion_loss(x, output, codec.config)
        return {
            "loss": loss,
            "mse": mse,
            "entropy_bits": output.entropy_bits,
            "bpp_estimate": output.bpp_estimate,
        }

    def save_state(at: int) -> None:
        source = {"init": None if init is None else str(init)}
        save_train_state(state_path, codec, optimizer, at, record | source)

    start = time.time()
    step = train_steps(
        objective,
        Optimization(optimizer, scheduler),
        crop_batches(dataset, config.batch_size, step, dev, config.workers),
        step,
        config.step_schedule(),
        StepLog(log_path, LOG_COLUMNS, f"codec {config.op}", previous),
        save_state,
    )
    codec.to(memory_format=torch.contiguous_format)
    cast = correct_color_cast(codec, dataset, config.table_batches, config.batch_size)
    fit_tables(codec, dataset, config.table_batches, config.batch_size)
    training = {
        **dataclasses.asdict(config),
        "steps": step,
        "device": device_name(dev),
        "wall_clock_s": round(previous + time.time() - start, 1),
        "color_cast_removed": [round(v, 3) for v in cast.tolist()],
    }
    if init is not None:  # steps count from these weights
        training["init"] = str(init)
    save_codec(codec, out, training=training)
    return codec


def load_weights_from(codec: ConvAutoencoder, path: str | Path) -> None:
    """Start from another codec's weights (`--init` path or name), e.g. continue training a
    shipped codec; Adam starts afresh."""
    from nodecode.codec.zoo import load_codec, paper_codec_only

    source = paper_codec_only(load_codec(path), "--init")
    if source.config.channels != codec.config.channels or (
        source.config.latent_channels != codec.config.latent_channels
    ):
        raise CheckpointError(
            f"{path}: --init codec has widths {source.config.channels} and C="
            f"{source.config.latent_channels}; this run has {codec.config.channels} and "
            f"C={codec.config.latent_channels}"
        )
    try:  # the tables are refitted at the end of training
        codec.load_state_dict(source.learned_state(), strict=False)
    except RuntimeError as e:
        raise CheckpointError(
            f"{path}: cannot initialise from it ({str(e).splitlines()[0]})"
        ) from None
