"""Training CompressAI's models on the photo corpus, as CompressAI's own example does.

The loss is CompressAI's `RateDistortionLoss` (λ·255²·MSE + bpp) with λ from its table for
each quality; a second Adam fits the entropy bottleneck's quantiles to the auxiliary loss;
gradients are clipped at norm 1 (compressai/examples/train.py). What nodecode adds:
the offline photo corpus, exact resume, a CSV log, bf16 transforms, and weights written as
safetensors that `compressai:ARCH:QUALITY:FILE` loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler

from nodecode.codec.compressai_models import CHECKPOINT_KIND
from nodecode.data.crops import crop_batches, training_crops
from nodecode.errors import ConfigError
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
from nodecode.utils.checkpoint import save_tensors
from nodecode.utils.precision import autocast, check_precision

# CSV column → CompressAI's RateDistortionLoss term, as train_steps logs them.
LOG_COLUMNS = {"loss": "loss", "mse": "mse_loss", "bpp": "bpp_loss", "aux_loss": "aux_loss"}
# The learned transforms, which bf16 training runs in bf16; everything else (entropy
# models, context and entropy-parameter networks) stays in fp32.
TRANSFORMS = ("g_a", "g_s", "h_a", "h_s")
# CompressAI's λ per quality for MSE (compressai.zoo: the models' published training).
LAMBDAS_MSE = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.18}


@dataclass
class CompressAITrainConfig:
    """Defaults follow CompressAI's example (Adam 1e-4, aux 1e-3, crops of 256, batch 16)."""

    arch: str = "bmshj2018-hyperprior"
    quality: int = 1
    data: str = "photos:train"
    crop: int = 256
    batch_size: int = 16
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lmbda: float | None = None
    clip_max_norm: float = 1.0
    max_steps: int = 100_000
    # lr ÷10 for the last `lr_decay_fraction` of the steps (CompressAI's example lowers it
    # on a plateau; a fixed point keeps resume exact).
    lr_decay_fraction: float = 0.0
    checkpoint_every: int = 1000
    log_every: int = 25
    seed: int = 0
    # As CodecTrainConfig: multi-scale crops from whole photos, their workers, chunked runs.
    min_scale: float | None = None
    workers: int = 0
    time_limit: float | None = None
    # bf16: the transforms in bf16 autocast (2.1× faster on this CPU's AMX units)
    precision: str = "fp32"

    def rate_weight(self) -> float:
        return self.lmbda if self.lmbda is not None else LAMBDAS_MSE[self.quality]

    def schedule(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        return schedules.final_decay(optimizer, self.max_steps, self.lr_decay_fraction)

    def step_schedule(self) -> StepSchedule:
        return StepSchedule(self.max_steps, self.log_every, self.checkpoint_every, self.time_limit)

    def validate(self) -> None:
        from nodecode.codec.compressai_models import architectures

        if self.arch not in architectures():
            raise ConfigError(f"--arch {self.arch!r}: one of {', '.join(architectures())}")
        if self.quality not in LAMBDAS_MSE:
            raise ConfigError(f"--quality {self.quality}: CompressAI's qualities are 1…8")
        check_precision(self.precision)


def build_model(arch: str, quality: int) -> Any:
    """An untrained CompressAI model with the zoo's widths for `quality`."""
    from compressai.zoo import image_models

    return image_models[arch](quality=quality, metric="mse", pretrained=False)


def split_aux_parameters(model: torch.nn.Module) -> tuple[list, list]:
    """(main, auxiliary) parameters, as CompressAI's example splits them: the entropy
    bottleneck's quantiles learn from the aux loss alone."""
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    return main, aux


@contextlib.contextmanager
def transforms_in(model: torch.nn.Module, device: torch.device, precision: str) -> Iterator[None]:
    """Run the model's transforms under `precision`'s autocast, each returning fp32.

    Autocasting the whole model would also run the entropy models in bf16, where a
    likelihood (the difference of two CDF values) loses the small probabilities that the
    rate term is made of. The override lives on the instances and is removed on exit, so
    the trained model codes exactly as its weights loaded afresh do."""
    patched = []
    if precision != "fp32":
        for name in TRANSFORMS:
            module = getattr(model, name, None)
            if isinstance(module, torch.nn.Module):
                inner = module.forward

                def forward(*args: Any, _inner: Any = inner, **kwargs: Any) -> Tensor:
                    with autocast(device, precision):
                        return _inner(*args, **kwargs).float()

                module.forward = forward  # type: ignore[method-assign]
                patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def _optimizers(model: torch.nn.Module, config: CompressAITrainConfig):
    main, aux = split_aux_parameters(model)
    return torch.optim.Adam(main, lr=config.lr), torch.optim.Adam(aux, lr=config.aux_lr)


def train_compressai(
    config: CompressAITrainConfig, out: str | Path, resume: bool = False, device: str = "cpu"
) -> Any:
    """Train, checkpointing every `checkpoint_every` steps; write the weights to `out`."""
    from compressai.losses import RateDistortionLoss

    config.validate()
    out = Path(out)
    state_path, log_path = run_paths(out)
    dev = torch.device(device)
    prepare_device(dev)
    torch.manual_seed(config.seed)
    model = build_model(config.arch, config.quality).to(dev)
    optimizer, aux_optimizer = _optimizers(model, config)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    dataset = training_crops(config.data, config.crop, config.min_scale, config.seed)
    criterion = RateDistortionLoss(lmbda=config.rate_weight())
    optimizers = (optimizer, aux_optimizer)
    record = dataclasses.asdict(config)
    step, _ = resume_or_start((state_path, log_path), model, optimizers, config, resume)
    previous = previous_wall_clock(log_path)
    scheduler = replayed(config.schedule, optimizer, base_lrs, step)
    model.train()

    def objective(x: Tensor) -> dict[str, Tensor]:
        return criterion(model(x), x)

    def save_state(at: int) -> None:
        save_train_state(state_path, model, optimizers, at, record)

    optimization = Optimization(
        optimizer,
        scheduler,
        clip_max_norm=config.clip_max_norm,
        clip_parameters=list(model.parameters()),
        aux_optimizer=aux_optimizer,
        aux_loss=model.aux_loss,
    )
    start = time.time()
    with transforms_in(model, dev, config.precision):
        step = train_steps(
            objective,
            optimization,
            crop_batches(dataset, config.batch_size, step, dev, config.workers),
            step,
            config.step_schedule(),
            StepLog(log_path, LOG_COLUMNS, config.arch, previous),
            save_state,
        )
    model.eval().update(force=True)  # the integer tables files are coded with
    training = {
        **dataclasses.asdict(config),
        "steps": step,
        "device": device_name(dev),
        "wall_clock_s": round(previous + time.time() - start, 1),
    }
    meta = {"arch": config.arch, "quality": config.quality, "training": training}
    save_tensors(out, model.state_dict(), CHECKPOINT_KIND, meta)
    return model
