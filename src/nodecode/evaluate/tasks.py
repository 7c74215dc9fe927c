"""Task metrics with torchmetrics: top-1/top-5 accuracy, per-class IoU and mIoU."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from nodecode.data.augment import IGNORE_INDEX
from nodecode.utils.precision import autocast


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    loader: DataLoader,
    task: str,
    num_classes: int,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
) -> dict[str, float | list[float]]:
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
        result: dict[str, float | list[float]] = {
            k: 100.0 * m.compute().item() for k, m in metrics.items()
        }
        # Always answering the commonest test class: the floor to beat.
        result["top1_majority"] = (
            100.0 * class_counts.max().item() / max(1, class_counts.sum().item())
        )
        return result
    iou = (100.0 * metrics["iou"].compute()).tolist()
    floor = (100.0 * trivial.compute()).tolist()
    return {"miou": sum(iou) / len(iou), "iou": iou, "miou_all_background": sum(floor) / len(floor)}
