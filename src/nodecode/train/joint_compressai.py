"""Gupta et al.'s joint training: a CompressAI codec and a cResNet on its ŷ / σ̂, together.

The loss is γ·(λ·255²·MSE + bpp) (CompressAI's rate-distortion loss, λ of the model's
quality) + CE of the classifier on the training-time latents (ŷ with uniform noise, as
CompressAI trains; σ̂ = h_s(ẑ)). `mode="compression"` is the control without a classifier.
SGD with the joint schedule of the paper's §6 (÷10 every third), the entropy bottleneck's
quantiles on their own Adam (the aux loss); the tables are rebuilt at the end, and the codec
written as safetensors that `compressai:ARCH:QUALITY:FILE` loads.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nodecode.codec.compressai_models import CHECKPOINT_KIND, CompressAICodec
from nodecode.codec.files import pad_to_multiple
from nodecode.data.datasets import image_splits
from nodecode.data.inputs import select_latents
from nodecode.errors import ConfigError, require_same_codec
from nodecode.models.checkpoint import (
    TaskModelInfo,
    TaskNetwork,
    load_task_model,
    write_task_model,
)
from nodecode.train.compressai_codec import LAMBDAS_MSE, split_aux_parameters
from nodecode.train.engine import Optimization, epoch_steps
from nodecode.train.joint import fine_tune_epochs, resume_step
from nodecode.train.schedules import replayed, thirds
from nodecode.train.state import TRAIN_STATE
from nodecode.utils.checkpoint import save_tensors

CLIP_MAX_NORM = 1.0  # compressai/examples/train.py


def train_joint_compressai(
    config: Any, codec: CompressAICodec, out: Path, resume: bool, device: str
) -> dict[str, Any]:
    """`train_joint` for a CompressAI codec (`config` is a JointTrainConfig)."""
    from compressai.losses import RateDistortionLoss

    torch.manual_seed(config.seed)
    dev = torch.device(device)
    joint = _classifier(config, codec)
    classifier, info = joint if joint is not None else (None, None)
    model = codec.model.to(dev)
    data = image_splits("classification", config.data, fashion_mnist=config.fashion_mnist)
    if info is not None and info.num_classes != data.num_classes:
        raise ConfigError(
            f"{config.classifier}: {info.num_classes} classes, {config.data} has {data.num_classes}"
        )
    main, aux = split_aux_parameters(model)
    groups: list[dict[str, Any]] = [{"params": main, "weight_decay": 0.0}]
    if classifier is not None:
        classifier.to(dev)
        groups.append({"params": list(classifier.parameters())})
    optimizer = torch.optim.SGD(
        groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    aux_optimizer = torch.optim.Adam(aux, lr=1e-3)
    modules = torch.nn.ModuleList([model] + ([classifier] if classifier is not None else []))
    criterion = RateDistortionLoss(lmbda=LAMBDAS_MSE[codec.quality])
    total = config.epochs * epoch_steps(data.train, config.batch_size)
    state_path = out / TRAIN_STATE
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    step = resume_step(state_path, modules, (optimizer, aux_optimizer), config, resume)
    scheduler = replayed(partial(thirds, total=total), optimizer, base_lrs, step)

    def objective(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, label = pad_to_multiple(batch[0], codec.alignment).to(dev), batch[1].to(dev)
        output, latents = codec.recording_latents(partial(model, x), True)
        rd = criterion(output, x)
        loss = config.gamma * rd["loss"]
        ce = torch.zeros((), device=dev)
        if classifier is not None and info is not None:
            ce = F.cross_entropy(classifier(select_latents(info.input, latents)), label)
            loss = loss + ce
        return {"loss": loss, "mse": rd["mse_loss"], "bpp": rd["bpp_loss"], "ce": ce}

    # Clipped as CompressAI's own training is: unclipped SGD on GDN and the entropy
    # models diverged to NaN within an epoch (gupta-tiny, quality 3).
    optimization = Optimization(
        optimizer,
        scheduler,
        clip_max_norm=CLIP_MAX_NORM,
        clip_parameters=[p for group in groups for p in group["params"]],
        aux_optimizer=aux_optimizer,
        aux_loss=model.aux_loss,
    )
    step = fine_tune_epochs(objective, optimization, data.train, config, out, modules, step)
    model.eval().update(force=True)  # the entropy models' tables, from the new weights
    path = out / "codec.safetensors"
    save_tensors(
        path, model.state_dict(), CHECKPOINT_KIND, {"arch": codec.arch, "quality": codec.quality}
    )
    spec = f"compressai:{codec.arch}:{codec.quality}:{path}"
    result: dict[str, Any] = {"codec": spec, "steps": step}
    if classifier is not None and info is not None:
        tuned = CompressAICodec(model, codec.arch, codec.quality, str(path))
        tagged = dataclasses.replace(
            info, codec=tuned.name, codec_id=tuned.identity().hex(), metrics={}
        )
        write_task_model(out / "classifier.safetensors", classifier.eval(), tagged)
        result["classifier"] = str(out / "classifier.safetensors")
    return result


def _classifier(config: Any, codec: CompressAICodec) -> tuple[TaskNetwork, TaskModelInfo] | None:
    """In joint mode, the classifier on this codec's ŷ / σ̂ and its info."""
    if config.mode != "joint":
        return None
    classifier, info = load_task_model(config.classifier)
    if info.task != "classification" or info.input not in ("y", "sigma", "y+sigma"):
        raise ConfigError(f"{config.classifier}: not a classifier on ŷ / σ̂ latents")
    require_same_codec(
        info.codec_id,
        codec.identity(),
        f"{config.classifier}: trained on latents of codec {info.codec!r}, not of {config.codec!r}",
    )
    return classifier, info
