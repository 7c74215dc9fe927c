"""Joint fine-tuning of codec and cResNet-51 (§6, Eq. 2), and its compression-only control.

`mode="joint"` minimises γ·(MSE + β·max(H − Ht, 0)) + CE with every part trainable.
`mode="compression"` is §6.1's control: the same codec term and schedule, no classifier.
Both start from trained states, use SGD (lr 0.0025, ÷10 every third of the run: 9 epochs,
÷10 every 3 in App. A.8), refit the entropy-coding tables afterwards, and write a codec
checkpoint; joint mode also writes the fine-tuned classifier, tagged with the new codec.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import save_codec
from nodecode.codec.compressai_models import is_compressai_spec
from nodecode.codec.loss import rate_distortion_loss
from nodecode.codec.zoo import load_codec, paper_codec_only
from nodecode.data.augment import MirrorShift
from nodecode.data.datasets import image_splits
from nodecode.errors import CheckpointError, ConfigError, require_same_codec
from nodecode.models.checkpoint import (
    TaskModelInfo,
    TaskNetwork,
    load_task_model,
    write_task_model,
)
from nodecode.train.engine import (
    Objective,
    Optimization,
    Postfix,
    epoch_steps,
    progress_hook,
    train_one_epoch,
)
from nodecode.train.runtime import RunLogger, same_settings
from nodecode.train.schedules import replayed, thirds
from nodecode.train.state import TRAIN_STATE, load_train_state, save_train_state
from nodecode.utils.precision import autocast, check_precision

MODES = ("joint", "compression")


@dataclass
class JointTrainConfig:
    """Defaults are App. A.8's; β and Ht default to the codec's own operating point."""

    codec: str = "paper-0.330"
    classifier: str | None = None
    mode: str = "joint"
    data: str = "fashion-scenes:small"
    gamma: float = 0.001
    beta: float | None = None
    target_entropy: float | None = None
    epochs: int = 9
    batch_size: int = 64
    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0
    fashion_mnist: str | None = None
    # DataLoader worker processes (augmentation then draws from their seeded RNGs: a run
    # resumes only with the count it started with).
    workers: int = 0
    # bf16 autocast for the forward passes (weights, SGD and the losses stay fp32): about
    # half the step time of the width-1.0 codec on CPUs with AVX-512 bf16 and on GPUs.
    precision: str = "fp32"

    def validate(self) -> None:
        check_precision(self.precision)
        if self.workers < 0:
            raise ConfigError(f"--workers must be 0 or more, not {self.workers}")
        if self.mode not in MODES:
            raise ConfigError(f"--mode must be one of {MODES}, not {self.mode!r}")
        if self.mode == "joint" and not self.classifier:
            raise ConfigError("joint training needs --classifier (a cResNet on this codec)")


def _models(
    config: JointTrainConfig,
) -> tuple[ConvAutoencoder, TaskNetwork | None, TaskModelInfo | None]:
    """The codec (β, Ht overridden as asked), and in joint mode the classifier and its info."""
    codec = paper_codec_only(load_codec(config.codec), "joint training")
    classifier: TaskNetwork | None = None
    info: TaskModelInfo | None = None
    if config.mode == "joint":
        if config.classifier is None:
            raise ConfigError("joint training needs --classifier")
        classifier, info = load_task_model(config.classifier)
        if info.task != "classification" or info.input != "latent":
            raise ConfigError(f"{config.classifier}: not a classifier on latents")
        require_same_codec(
            info.codec_id,
            codec.identity(),
            f"{config.classifier}: trained on latents of codec {info.codec!r}, "
            f"not of {config.codec!r}",
        )
    if config.beta is not None:
        codec.config = dataclasses.replace(codec.config, beta=config.beta)
    if config.target_entropy is not None:
        codec.config = dataclasses.replace(codec.config, target_entropy=config.target_entropy)
    return codec, classifier, info


def train_joint(
    config: JointTrainConfig, out: str | Path, resume: bool = False, device: str = "cpu"
) -> dict[str, Any]:
    """Fine-tune; writes out/codec.safetensors (and out/classifier.safetensors) and a log."""
    config.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if is_compressai_spec(config.codec):  # Gupta et al.'s joint training
        from nodecode.codec.compressai_models import CompressAICodec
        from nodecode.train.joint_compressai import train_joint_compressai

        if config.precision != "fp32":
            raise ConfigError("--precision bf16 is for paper codecs; CompressAI's run in fp32")
        if config.beta is not None or config.target_entropy is not None:
            raise ConfigError(
                "--beta / --target-entropy are the paper codec's; CompressAI "
                "models trade rate for distortion with their quality's λ"
            )
        codec_model = load_codec(config.codec, device)
        assert isinstance(codec_model, CompressAICodec)
        return train_joint_compressai(config, codec_model, out, resume, device)
    torch.manual_seed(config.seed)
    dev = torch.device(device)
    codec, classifier, classifier_info = _models(config)
    codec.to(dev)
    if classifier is not None:
        classifier.to(dev)
    data = image_splits("classification", config.data, fashion_mnist=config.fashion_mnist)
    modules = [codec] + ([classifier] if classifier is not None else [])
    groups = [{"params": list(codec.parameters()), "weight_decay": 0.0}]
    if classifier is not None:
        groups.append({"params": list(classifier.parameters())})
    optimizer = torch.optim.SGD(
        groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    model = torch.nn.ModuleList(modules)
    train_set = MirrorShift(data.train, data.image_size // 8)
    total = config.epochs * epoch_steps(train_set, config.batch_size)
    state_path = out / TRAIN_STATE
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    step = resume_step(state_path, model, optimizer, config, resume)
    scheduler = replayed(partial(thirds, total=total), optimizer, base_lrs, step)

    def objective(batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, label = batch[0].to(dev), batch[1].to(dev)
        with autocast(dev, config.precision):
            output = codec(x)
            codec_loss, mse = rate_distortion_loss(x, output, codec.config)
            ce = torch.zeros((), device=dev)
            if classifier is not None:
                ce = F.cross_entropy(classifier(output.latent), label)
        loss = config.gamma * codec_loss.float() + ce.float()
        return {
            "loss": loss,
            "mse": mse,
            "entropy_bits": output.entropy_bits,
            "ce": ce,
        }

    def show(terms: dict[str, Tensor]) -> dict[str, str]:
        return {"mse": f"{terms['mse'].item():.1f}", "H": f"{terms['entropy_bits'].item():.3f}"}

    step = fine_tune_epochs(
        objective, Optimization(optimizer, scheduler), train_set, config, out, model, step, show
    )
    _refit_tables(codec, data.train, config.batch_size, dev)
    codec.name = f"{config.mode}-ft-{codec.name}"
    save_codec(codec, out / "codec.safetensors")
    result = {"codec": str(out / "codec.safetensors"), "steps": step}
    if classifier is not None and classifier_info is not None:
        tuned = dataclasses.replace(
            classifier_info, codec=codec.name, codec_id=codec.identity().hex(), metrics={}
        )
        write_task_model(out / "classifier.safetensors", classifier.eval(), tuned)
        result["classifier"] = str(out / "classifier.safetensors")
    return result


def fine_tune_epochs(
    objective: Objective,
    optimization: Optimization,
    train_set: Any,
    config: Any,
    out: Path,
    modules: torch.nn.Module,
    step: int,
    show: Postfix | None = None,
) -> int:
    """The remaining epochs of a joint or compression-only run (`config` is a
    JointTrainConfig), each logged and checkpointed; returns the step reached."""
    optimizers: Any = optimization.optimizer
    if optimization.aux_optimizer is not None:
        optimizers = (optimization.optimizer, optimization.aux_optimizer)
    steps_per_epoch = epoch_steps(train_set, config.batch_size)
    run_log = RunLogger(out, enabled=True, fresh=step == 0)
    start = time.time()
    for epoch in range(step // steps_per_epoch, config.epochs):
        loader = epoch_loader(train_set, config, epoch)
        modules.train()
        desc = f"{config.mode} ft epoch {epoch + 1}/{config.epochs}"
        with tqdm(total=len(loader), desc=desc, leave=False) as bar:
            hook = progress_hook(bar, show)
            trained = train_one_epoch(objective, optimization, loader, on_step=hook)
        step += trained.steps
        row = {"epoch": epoch + 1, "step": step, **trained.means}
        run_log.log(row | {"seconds": round(time.time() - start, 1)})
        save_train_state(out / TRAIN_STATE, modules, optimizers, step, dataclasses.asdict(config))
    run_log.close()
    return step


def resume_step(
    state_path: Path, model: torch.nn.Module, optimizers: Any, config: Any, resume: bool
) -> int:
    """The step to start from: 0, or the saved one (same configuration only)."""
    if not (resume and state_path.is_file()):
        return 0
    step, saved = load_train_state(state_path, model, optimizers)
    if not same_settings(saved, config):
        raise CheckpointError(f"{state_path}: saved with a different configuration")
    return step


def epoch_loader(dataset: Any, config: Any, epoch: int) -> DataLoader:
    """The epoch's batches, in an order fixed by seed and epoch (so resume is exact)."""
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        drop_last=True,
        sampler=RandomSampler(dataset, generator=generator),
        num_workers=config.workers,
    )


@torch.no_grad()
def _refit_tables(
    codec: ConvAutoencoder, images: Any, batch_size: int, device: torch.device
) -> None:
    """Fine-tuning moves the symbol statistics: count them afresh on the training images."""
    codec.eval()
    codec.fit_tables(
        codec.encode(x.to(device)) for x, _ in DataLoader(images, batch_size=batch_size)
    )
