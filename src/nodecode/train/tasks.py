"""Classifier and segmenter training (App. A.4, A.5) on RGB, decoded RGB, or latents.

One loop serves both tasks: rounds of steps (an epoch for classification, `eval_every`
iterations for segmentation), each followed by evaluation, logging and a checkpoint.
Runs as one process or under `torchrun` (DDP); `resume` continues from the last round
with the same model, optimizer, schedule and RNG state.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Subset
from tqdm import tqdm

from nodecode.data.augment import IGNORE_INDEX, MirrorShift, channel_mean
from nodecode.data.datasets import TaskData, load_task_data
from nodecode.data.inputs import INPUTS, branches, is_latent_input
from nodecode.errors import CheckpointError, ConfigError
from nodecode.evaluate.tasks import evaluate_model
from nodecode.models import create, reads_latents
from nodecode.models.checkpoint import TaskModelInfo, TaskNetwork, write_task_model
from nodecode.models.resnet import ResNetClassifier
from nodecode.models.segmentation import DeepLabV2, load_classifier_into
from nodecode.train import distributed, schedules
from nodecode.train.engine import (
    Optimization,
    epoch_steps,
    progress_hook,
    repeat_epochs,
    train_one_epoch,
)
from nodecode.train.runtime import RunLogger, same_settings
from nodecode.train.schedules import replayed
from nodecode.train.state import TRAIN_STATE, load_train_state, save_train_state
from nodecode.utils.checkpoint import load_tensors
from nodecode.utils.digest import state_digest
from nodecode.utils.precision import autocast, check_precision

logger = logging.getLogger(__name__)
SCHEDULES = ("paper", "cosine", "finetune")
WARMUP = 0.05  # fraction of the run spent warming up under the cosine schedule


@dataclass
class TaskTrainConfig:
    """Defaults are the paper's: App. A.4 for classification, App. A.5 for segmentation."""

    task: str = "classification"
    model: str = "cresnet51"
    input: str = "latent"
    data: str = "fashion-scenes:small"
    latents: str | None = None
    width: float = 1.0
    epochs: int = 28
    iters: int = 20_000
    eval_every: int = 2_000
    batch_size: int | None = None
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    seed: int = 0
    # "paper": ÷10 steps (classification) / poly (segmentation), App. A.4–A.5. "cosine":
    # a short linear warm-up then cosine decay, for the short runs this CPU affords, where
    # the paper's first decay comes after only a few hundred steps. "finetune": ÷10 after
    # each third of the run, the joint-training schedule (App. A.8: 9 epochs, ÷10 every 3).
    schedule: str = "paper"
    init: str | None = None
    fashion_mnist: str | None = None
    image_size: int | None = None
    # Hold out this last fraction of the training set as a validation split: every round
    # evaluates on it (for choosing hyperparameters), the test set is evaluated once, at
    # the end. 0: evaluate on the test set each round (the paper's curves, Figs. 3–4).
    val_fraction: float = 0.0
    # False: never score the test split, not even at the end (a run that chooses
    # hyperparameters on the validation split; needs val_fraction > 0).
    score_test: bool = True
    # DataLoader worker processes for training and evaluation batches. Augmentation then
    # draws from each worker's seeded RNG: an equally reproducible but different stream, so
    # a run resumes only with the count it started with.
    workers: int = 0
    # Train on random `crop`² crops, on the latent grid, of inputs encoded larger (the
    # paper: 224 of 256, i.e. 28 of 32 latent positions), and evaluate on the centre crop.
    crop: int | None = None
    # bf16 autocast for forward passes (weights, SGD and the loss stay fp32), and
    # channels-last memory: how GPUs and AMX CPUs run convolutions fastest.
    precision: str = "fp32"
    channels_last: bool = False

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    def batch(self) -> int:
        return self.batch_size or (64 if self.classification else 10)

    def base_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        # Linear scaling rule (Goyal et al.): 0.025 at batch 64; segmentation 1e-3 at batch 10.
        return 0.025 * self.batch() / 64 if self.classification else 1e-3

    def decay(self) -> float:
        return (
            self.weight_decay
            if self.weight_decay is not None
            else (1e-4 if self.classification else 5e-4)
        )

    def validate(self) -> None:
        if self.task not in ("classification", "segmentation"):
            raise ConfigError(f"unknown task {self.task!r}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be 0 or more, not {self.workers}")
        check_precision(self.precision)
        if self.crop is not None and self.crop < 1:
            raise ConfigError(f"--crop must be a positive number of pixels, not {self.crop}")
        if not 0.0 <= self.val_fraction < 0.5:
            raise ConfigError(f"--val-fraction must be in [0, 0.5), not {self.val_fraction}")
        if not self.score_test and not self.val_fraction:
            raise ConfigError("--no-test needs a validation split to score (--val-fraction)")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"--schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if self.input not in INPUTS:
            raise ConfigError(f"--input must be one of {INPUTS}, not {self.input!r}")
        on_latents = reads_latents(self.model)
        if on_latents != is_latent_input(self.input):
            raise ConfigError(
                f"{self.model} reads {'latents' if on_latents else 'images'}; "
                f"it cannot take --input {self.input}"
            )
        if self.classification == self.model.endswith("-d"):
            raise ConfigError(f"{self.model} is not a {self.task} network")


def lr_schedule(config: TaskTrainConfig, total: int) -> Callable[[Optimizer], LRScheduler]:
    """The paper's: ÷10 at epochs 8, 16, 24 of 28 (scaled to the run) for classifiers, poly
    decay with power 0.9 for segmentation; or warm-up + cosine, or ÷10 every third."""
    if config.schedule == "cosine":
        return partial(schedules.warmup_cosine, total=total, warmup_fraction=WARMUP)
    if config.schedule == "finetune":
        return partial(schedules.thirds, total=total)
    if config.classification:
        return partial(schedules.step_decay, total=total, fractions=schedules.RESNET_EPOCHS)
    return partial(schedules.poly, total=total)


def param_groups(model: TaskNetwork, config: TaskTrainConfig) -> list[dict[str, Any]]:
    """Segmentation trains the final (ASPP) layer at 10× the learning rate (App. A.5)."""
    if isinstance(model, ResNetClassifier):
        return [{"params": list(model.parameters()), "lr": config.base_lr()}]
    head = list(model.head.parameters())
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    return [{"params": body, "lr": config.base_lr()}, {"params": head, "lr": 10 * config.base_lr()}]


def _loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(scores, target, ignore_index=IGNORE_INDEX)


def build_model(config: TaskTrainConfig, data: TaskData) -> TaskNetwork:
    extra = {}
    if is_latent_input(config.input):  # the two-branch stem for ŷ+σ̂, the codec's stride
        extra = {"branches": branches(config.input), "latent_stride": data.latent_stride}
    model = create(
        config.model,
        num_classes=data.num_classes,
        in_channels=data.in_channels,
        width=config.width,
        **extra,
    )
    assert isinstance(model, ResNetClassifier | DeepLabV2)
    return model


def train_task(
    config: TaskTrainConfig, out: str | Path, resume: bool = False, device: str = "cpu"
) -> dict[str, Any]:
    """Train, evaluating each round; writes out/model.safetensors and logs; returns metrics."""
    config.validate()
    out = Path(out)
    info = distributed.init_distributed(device)
    dev = distributed.device_for(device, info)
    torch.manual_seed(config.seed)
    data = load_task_data(
        config.task,
        config.input,
        config.data,
        config.latents,
        config.fashion_mnist,
        config.image_size,
    )
    train_data, val_data = split_validation(data.train, config.val_fraction)
    test_data = data.test
    decode = data.input_transform.to(dev) if data.input_transform is not None else None
    if config.crop:  # random crops on the latent grid for training, the centre to evaluate
        train_data = data.grid_crop(train_data, config.crop, train=True)
        test_data = data.grid_crop(test_data, config.crop, train=False)
        if val_data is not None:
            val_data = data.grid_crop(val_data, config.crop, train=False)
    model = build_model(config, data)
    model.backbone.input_mean.copy_(channel_mean(train_data, transform=decode))
    if config.init:
        init_model(model, config)
    model.to(dev)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    groups = param_groups(model, config)
    optimizer = torch.optim.SGD(
        groups,
        lr=config.base_lr(),
        momentum=config.momentum,
        weight_decay=config.decay(),
    )
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    # Shifts of an eighth of the image (latents by whole positions, at least one), or with
    # random crops, mirroring alone.
    pad = data.image_size // 8
    if data.latent_items:
        pad = 1 if decode is None else max(1, pad // data.latent_stride)
    if config.crop:
        pad = 0
    scale = data.latent_stride if data.latent_items else 1
    train_set = MirrorShift(train_data, pad, mask_scale=scale)
    per_rank = config.batch() // info.world_size
    if per_rank < 1:
        raise ConfigError(f"batch size {config.batch()} is smaller than {info.world_size} ranks")
    sampler: DistributedSampler | None = (
        DistributedSampler(train_set, info.world_size, info.rank, seed=config.seed)
        if info.enabled
        else None
    )
    steps_per_epoch = epoch_steps(train_set, config.batch())
    if config.classification:
        total, per_round = config.epochs * steps_per_epoch, steps_per_epoch
    else:
        total, per_round = config.iters, min(config.eval_every, config.iters)
    rounds = math.ceil(total / per_round)
    state_path = out / TRAIN_STATE
    step, history = 0, []
    if resume and state_path.is_file():
        step, saved = load_train_state(state_path, model, optimizer)
        if not same_settings(saved["config"], config):
            raise CheckpointError(f"{state_path}: saved with a different configuration")
        history = saved["history"]
    scheduler = replayed(lr_schedule(config, total), optimizer, base_lrs, step)
    net = DistributedDataParallel(model) if info.enabled else model

    def objective(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, target = batch
        x = x.to(dev) if decode is None else decode(x.to(dev))
        with autocast(dev, config.precision):
            scores = net(x.contiguous(memory_format=layout))
        return {"loss": _loss(scores.float(), target.to(dev))}

    optimization = Optimization(optimizer, scheduler)
    eval_batch = max(config.batch(), 32)
    loading: dict[str, Any] = {"num_workers": config.workers, "pin_memory": dev.type == "cuda"}
    round_data = val_data if val_data is not None else test_data
    round_loader = DataLoader(round_data, eval_batch, **loading)
    prefix = "val_" if val_data is not None else ""
    out.mkdir(parents=True, exist_ok=True)
    run_log = RunLogger(out, enabled=info.is_main, fresh=step == 0)
    start = time.time()
    metrics: dict[str, Any] = {}
    for round_index in range(step // per_round, rounds):
        if sampler is not None:
            sampler.set_epoch(round_index)
        generator = torch.Generator().manual_seed(config.seed * 100_003 + round_index)
        loader = DataLoader(
            train_set,
            batch_size=per_rank,
            drop_last=True,
            sampler=sampler or RandomSampler(train_set, generator=generator),
            **loading,
        )
        net.train()
        end = min(total, (round_index + 1) * per_round)
        with tqdm(
            total=end - step,
            desc=f"{config.model} round {round_index + 1}/{rounds}",
            unit="step",
            disable=not info.is_main,
            leave=False,
        ) as bar:
            trained = train_one_epoch(
                objective, optimization, repeat_epochs(loader), end - step, progress_hook(bar)
            )
        step += trained.steps
        distributed.sync_buffers(model, info)
        if info.is_main:
            metrics = evaluate_model(
                data.network(model),
                round_loader,
                config.task,
                data.num_classes,
                dev,
                config.precision,
            )
            metrics = {prefix + k: v for k, v in metrics.items()}
            row = {
                "round": round_index + 1,
                "step": step,
                "train_loss": trained.means["loss"],
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": round(time.time() - start, 1),
                **{k: v for k, v in metrics.items() if not isinstance(v, list)},
            }
            history.append(row)
            run_log.log(row)
            logger.info("%s round %d/%d: %s", config.model, round_index + 1, rounds, _summary(row))
            snapshot = {"config": dataclasses.asdict(config), "history": history}
            save_train_state(state_path, model, optimizer, step, snapshot)
            save_task_model(out / "model.safetensors", model, config, data, metrics)
        distributed.barrier(info)
    run_log.close()
    final = dict(history[-1]) if history and info.is_main else {}
    if val_data is not None and config.score_test and info.is_main:  # test once, at the end
        test_loader = DataLoader(test_data, eval_batch, **loading)
        test = evaluate_model(
            data.network(model), test_loader, config.task, data.num_classes, dev, config.precision
        )
        final |= {k: v for k, v in test.items() if not isinstance(v, list)}
        save_task_model(out / "model.safetensors", model, config, data, {**metrics, **test})
    final["weights_sha256"] = weights_digest(model)
    distributed.cleanup(info)
    return final


def _summary(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())


def split_validation(train: Dataset, fraction: float) -> tuple[Dataset, Dataset | None]:
    """(train, validation): the last `fraction` of the training items, held out."""
    if fraction <= 0:
        return train, None
    n = len(train)  # type: ignore[arg-type]  # map-style datasets are sized
    held = max(1, int(n * fraction))
    return Subset(train, range(n - held)), Subset(train, range(n - held, n))


def init_model(model: TaskNetwork, config: TaskTrainConfig) -> None:
    """A segmenter takes a classifier's backbone (§5.3); a classifier continues all of one."""
    if config.init is None:
        return
    if isinstance(model, DeepLabV2):
        load_classifier_into(model, config.init)
        return
    tensors, meta = load_tensors(config.init, "classifier")
    if (meta["model"], meta["width"]) != (config.model, config.width):
        raise ConfigError(
            f"{config.init}: a {meta['model']} of width {meta['width']}, "
            f"not {config.model} of width {config.width}"
        )
    model.load_state_dict(tensors)


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter and buffer: equal digests mean bit-identical models."""
    return state_digest(model).hexdigest()


def save_task_model(
    path: Path, model: TaskNetwork, config: TaskTrainConfig, data: TaskData, metrics: dict[str, Any]
) -> None:
    write_task_model(path, model, task_meta(config, data, metrics))


def task_meta(config: TaskTrainConfig, data: TaskData, metrics: dict[str, Any]) -> TaskModelInfo:
    """What a task checkpoint records: the network, its input, its data and its codec."""
    return TaskModelInfo(
        model=config.model,
        task=config.task,
        input=config.input,
        num_classes=data.num_classes,
        in_channels=data.in_channels,
        width=config.width,
        classes=tuple(data.classes),
        data=config.data,
        latents=config.latents,
        codec=data.codec,
        codec_id=data.codec_id,
        metrics=metrics,
        crop=config.crop,
    )
