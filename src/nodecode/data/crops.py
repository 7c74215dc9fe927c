"""Random crops of a set of images: the codec's training data (App. A.1 trains on crops)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from nodecode.data.images import image_source, load_image, pil_to_tensor
from nodecode.errors import ImageError


class RandomCrops(Dataset):
    """`length` random crops (with mirroring) drawn from images; paths are opened lazily."""

    def __init__(self, images: Sequence[Image.Image | Path], crop: int, length: int) -> None:
        if not images:
            raise ImageError("no training images")
        # In-memory images are converted once; paths stay lazy for large folders.
        self.images = [i if isinstance(i, Path) else pil_to_tensor(i) for i in images]
        self.length = length
        self.transform = v2.Compose(
            [
                v2.RandomCrop(crop, pad_if_needed=True, padding_mode="reflect"),
                v2.RandomHorizontalFlip(),
            ]
        )

    def __len__(self) -> int:
        return self.length

    def _image(self, index: int) -> torch.Tensor:
        item = self.images[index % len(self.images)]
        return load_image(item) if isinstance(item, Path) else item

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self._image(index))

    def batch(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """A random batch (N, 3, crop, crop). Indexes and crops come from the global RNG,
        which training states save: resume is exact."""
        indexes = torch.randint(len(self), (batch_size,)).tolist()
        return torch.stack([self[i] for i in indexes]).to(device)


def training_images(spec: str | os.PathLike) -> list[Image.Image | Path]:
    return list(image_source(spec).values())
