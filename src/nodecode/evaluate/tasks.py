"""Task metrics with torchmetrics: top-1/top-5 accuracy, per-class IoU and mIoU."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from nodecode.data.augment import IGNORE_INDEX
from nodecode.errors import require_same_codec
from nodecode.utils.precision import autocast

if TYPE_CHECKING:
    from nodecode.models.checkpoint import TaskModelInfo

Metrics = dict[str, float | list[float]]


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    loader: DataLoader,
    task: str,
    num_classes: int,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> Metrics:
    model.eval()
    # The main rank evaluates the whole test set alone, so metrics must not sync across ranks.
    metrics: dict[str, Metric]
    if task == "classification":
        metrics = {
            "top1": MulticlassAccuracy(
                num_classes, top_k=1, average="micro", sync_on_compute=False
            ),
            "top5": MulticlassAccuracy(
                num_classes, top_k=min(5, num_classes), average="micro", sync_on_compute=False
            ),
        }
    else:
        metrics = {
            "iou": MulticlassJaccardIndex(
                num_classes, average="none", ignore_index=IGNORE_INDEX, sync_on_compute=False
            )
        }
        # What predicting background (class 0) everywhere scores: the floor to beat.
        trivial = MulticlassJaccardIndex(
            num_classes, average="none", ignore_index=IGNORE_INDEX, sync_on_compute=False
        ).to(device)
    metrics = {k: m.to(device) for k, m in metrics.items()}
    class_counts = torch.zeros(num_classes, dtype=torch.int64)
    for x, target in loader:
        target = target.to(device)
        with autocast(device, precision):
            scores = model(x.to(device)).float()
        for metric in metrics.values():
            metric.update(scores, target)
        if task == "classification":
            class_counts += torch.bincount(target.cpu(), minlength=num_classes)[:num_classes]
        else:
            trivial.update(torch.zeros_like(target), target)
    if task == "classification":
        result: Metrics = {k: 100.0 * m.compute().item() for k, m in metrics.items()}
        # Always answering the commonest test class: the floor to beat.
        result["top1_majority"] = (
            100.0 * class_counts.max().item() / max(1, class_counts.sum().item())
        )
        return result
    iou = (100.0 * metrics["iou"].compute()).tolist()
    floor = (100.0 * trivial.compute()).tolist()
    return {"miou": sum(iou) / len(iou), "iou": iou, "miou_all_background": sum(floor) / len(floor)}


def evaluate_checkpoint(
    network: nn.Module,
    info: TaskModelInfo,
    data: str | None = None,
    latents: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    batch_size: int = 64,
) -> Metrics:
    """A trained network's test metrics, scored as it trained: on the latents of its own codec
    (another codec's symbols would be scored without complaint, and mean nothing to it),
    through the decoder where the cache stores no images, on the centre crop where it trained
    on crops. `data` and `latents` default to those in the checkpoint's header."""
    from nodecode.data.datasets import load_task_data

    latents = latents if latents is not None else info.latents
    task_data = load_task_data(
        info.task, info.input, data or info.data or "", None if latents is None else str(latents)
    )
    if info.input != "rgb" and info.codec_id:  # a checkpoint that names no codec is trusted
        require_same_codec(
            info.codec_id,
            task_data.codec_id or "",
            f"{latents} holds latents of codec {task_data.codec!r}, not of {info.codec!r} "
            f"that this {info.kind} was trained on; encode the data with it "
            "(`nodecode encode-dataset`)",
        )
    test = task_data.test
    if info.crop:
        test = task_data.grid_crop(test, info.crop, train=False)
    if task_data.input_transform is not None:  # a cache without decoded images
        task_data.input_transform.to(device)
    loader = DataLoader(test, batch_size=batch_size)
    network = task_data.network(network)
    return evaluate_model(network, loader, info.task, info.num_classes, device, precision)
