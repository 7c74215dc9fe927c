"""One autocast helper for training, evaluation, inference and the bench."""

import pytest
import torch
from torch import nn

from nodecode.errors import ConfigError
from nodecode.evaluate.tasks import evaluate_model
from nodecode.utils.precision import autocast


def test_bf16_runs_convolutions_in_bf16_and_fp32_changes_nothing():
    conv, x = nn.Conv2d(3, 4, 3), torch.rand(1, 3, 8, 8)
    with autocast("cpu", "bf16"):
        assert conv(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert torch.equal(conv(x), conv(x)) and conv(x).dtype == torch.float32


def test_an_unknown_precision_is_a_clear_error():
    with pytest.raises(ConfigError, match="fp16"):
        autocast("cpu", "fp16")


def test_bf16_evaluation_keeps_the_metrics_of_a_confident_model():
    torch.manual_seed(0)
    target = torch.arange(64) % 8
    x = 0.5 * torch.rand(64, 8) + nn.functional.one_hot(target, 8)  # clear margins
    model = nn.Sequential(nn.Linear(8, 8))
    with torch.no_grad():
        model[0].weight.copy_(10 * torch.eye(8))
        model[0].bias.zero_()
    loader = [(x[i : i + 16], target[i : i + 16]) for i in range(0, 64, 16)]
    fp32 = evaluate_model(model, loader, "classification", 8)
    bf16 = evaluate_model(model, loader, "classification", 8, precision="bf16")
    assert fp32["top1"] == bf16["top1"] == 100.0
