"""Task metrics come with the floor a trivial predictor reaches on the same test data."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nodecode.evaluate.tasks import evaluate_model


class Constant(nn.Module):
    """Scores that always pick `label` (per image, or per pixel at the input's size)."""

    def __init__(self, num_classes: int, label: int, per_pixel: bool) -> None:
        super().__init__()
        self.num_classes, self.label, self.per_pixel = num_classes, label, per_pixel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (
            (x.shape[0], self.num_classes, *x.shape[2:])
            if self.per_pixel
            else (x.shape[0], self.num_classes)
        )
        scores = torch.zeros(shape)
        scores[:, self.label] = 1.0
        return scores


def test_classification_reports_the_majority_class_floor():
    labels = torch.tensor([2, 2, 2, 1, 0, 2, 1, 3])  # class 2 is 4 of 8
    loader = DataLoader(TensorDataset(torch.zeros(8, 1, 2, 2), labels), batch_size=3)
    result = evaluate_model(Constant(5, 2, False), loader, "classification", 5)
    assert result["top1_majority"] == pytest.approx(50.0)
    assert result["top1"] == pytest.approx(50.0)  # the constant model is exactly that floor


def test_segmentation_reports_the_all_background_floor():
    masks = torch.zeros(4, 6, 6, dtype=torch.int64)
    masks[:, :2, :3] = 1  # class 1 on 6 of 36 pixels
    masks[0, 5, 5] = 2
    loader = DataLoader(TensorDataset(torch.zeros(4, 1, 6, 6), masks), batch_size=2)
    result = evaluate_model(Constant(3, 0, True), loader, "segmentation", 3)
    assert result["miou"] == pytest.approx(result["miou_all_background"])
    background = (masks == 0).sum().item() / masks.numel()
    assert result["miou_all_background"] == pytest.approx(100 * background / 3)
