"""The natural photos bundled with scikit-image: offline training and test images.

The split is fixed so every result that uses it can be regenerated. Grayscale photos are
replicated to RGB; the test photos never appear in training.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from nodecode.errors import ConfigError

TRAIN_PHOTOS = (
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "stereo_motorcycle",
    "grass",
    "gravel",
    "brick",
    "moon",
    "coins",
    "clock",
    "colorwheel",
)
TEST_PHOTOS = ("astronaut", "coffee", "camera")
SPLITS = {"train": TRAIN_PHOTOS, "test": TEST_PHOTOS}


def load_photo(name: str) -> Image.Image:
    import skimage.data

    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo pairs: take the left view
        image = image[0]
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return Image.fromarray(array[..., :3].astype(np.uint8))


def photo_split(split: str) -> dict[str, Image.Image]:
    if split not in SPLITS:
        raise ConfigError(f"unknown photo split {split!r}; choose one of {sorted(SPLITS)}")
    return {name: load_photo(name) for name in SPLITS[split]}
