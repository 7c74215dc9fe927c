"""Shipped task models: small classifiers and segmenters for the demo, by name.

Names are `<network>-<operating point>` (`cresnet51-0.330`, `resnet50-d-0.0983`): each was
trained on the latents (cResNets) or decoded images (ResNets) of the shipped codec
`paper-<operating point>` by `nodecode reproduce --preset small --lr 0.2 --seg-lr 0.01` (seed 0;
the preset's learning rates before they were tuned), and stored here in
half precision by `scripts/ship_demo_models.py` (docs/RESULTS.md §5). Each names its codec
in its header (`info.codec`, checked by `info.codec_id`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from nodecode.errors import ConfigError
from nodecode.utils.shipped import ShippedEnum, ShippedWeights

if TYPE_CHECKING:
    from nodecode.models.checkpoint import TaskModelInfo, TaskNetwork


def weights_folder() -> Path:
    """Where the package keeps its task models."""
    return Path(str(resources.files("nodecode.models") / "weights"))


def shipped_task_models() -> list[str]:
    folder = weights_folder()
    return sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []


# How the shipped task models were made (the module docstring says more).
RECIPE = (
    "nodecode reproduce --preset small --lr 0.2 --seg-lr 0.01  # then scripts/ship_demo_models.py"
)


def task_model_info(spec: str) -> TaskModelInfo:
    """What a shipped task model (by name) or a checkpoint says about itself, read from its
    header alone: no weight is loaded."""
    from nodecode.models.checkpoint import TaskModelInfo
    from nodecode.utils.checkpoint import read_meta

    path = _resolve(spec)
    return TaskModelInfo.from_header(path, read_meta(path, ("classifier", "segmenter")))


def _resolve(spec: str) -> Path:
    if spec in shipped_task_models():
        return weights_folder() / f"{spec}.safetensors"
    if Path(spec).is_file():
        return Path(spec)
    raise ConfigError(
        f"unknown task model {spec!r}: not a file, and not one of {shipped_task_models()}"
    )


def load_task(spec: str, device: str = "cpu") -> tuple[TaskNetwork, TaskModelInfo]:
    """A task model by shipped name or checkpoint path."""
    from nodecode.models.checkpoint import load_task_model

    return load_task_model(_resolve(spec), device)


class TaskModelWeights(ShippedEnum):
    """The shipped task models, in the style of torchvision's weight enums::

    net, info = TaskModelWeights.CRESNET51_0_330.load()
    TaskModelWeights.CRESNET51_0_330.info.metrics["top1"]

    Each reads the latents (cResNets) or decoded images (ResNets) of the shipped codec
    `paper-OP`, named by `info.codec` and `info.codec_id`.
    """

    CRESNET51_0_0983 = ShippedWeights("cresnet51-0.0983", RECIPE)
    CRESNET51_0_330 = ShippedWeights("cresnet51-0.330", RECIPE)
    CRESNET51_0_635 = ShippedWeights("cresnet51-0.635", RECIPE)
    CRESNET51_D_0_0983 = ShippedWeights("cresnet51-d-0.0983", RECIPE)
    CRESNET51_D_0_330 = ShippedWeights("cresnet51-d-0.330", RECIPE)
    CRESNET51_D_0_635 = ShippedWeights("cresnet51-d-0.635", RECIPE)
    RESNET50_0_0983 = ShippedWeights("resnet50-0.0983", RECIPE)
    RESNET50_0_330 = ShippedWeights("resnet50-0.330", RECIPE)
    RESNET50_0_635 = ShippedWeights("resnet50-0.635", RECIPE)
    RESNET50_D_0_0983 = ShippedWeights("resnet50-d-0.0983", RECIPE)
    RESNET50_D_0_330 = ShippedWeights("resnet50-d-0.330", RECIPE)
    RESNET50_D_0_635 = ShippedWeights("resnet50-d-0.635", RECIPE)

    @property
    def info(self) -> TaskModelInfo:
        """Task, input, codec, metrics: from the file's header alone."""
        return task_model_info(self.value.spec)

    def load(self, device: str = "cpu") -> tuple[TaskNetwork, TaskModelInfo]:
        return load_task(self.value.spec, device)
