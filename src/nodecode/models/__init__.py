"""Inference networks: ResNets on RGB, cResNets on latents, and their DeepLab v2 variants.

Every network is built by name::

    from nodecode import models
    net = models.create("cresnet51", in_channels=32, width=0.25, num_classes=10)
    seg = models.create("cresnet51-d", in_channels=32, num_classes=21)
"""

from nodecode.models import builders as _builders  # noqa: F401  (registers the networks)
from nodecode.models.builders import reads_latents
from nodecode.models.registry import create, list_models
from nodecode.models.resnet import SPECS, ResNetBackbone, ResNetClassifier
from nodecode.models.segmentation import ASPP, DeepLabV2, init_from_classifier

__all__ = [
    "ASPP",
    "SPECS",
    "DeepLabV2",
    "ResNetBackbone",
    "ResNetClassifier",
    "create",
    "init_from_classifier",
    "list_models",
    "reads_latents",
]
