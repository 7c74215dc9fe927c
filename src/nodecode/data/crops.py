"""Random crops of a set of images: the codec's training data (App. A.1 trains on crops)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from nodecode.data.images import image_source, load_image, open_image, pil_to_tensor
from nodecode.errors import ImageError


class _Crops(Dataset):
    """`length` crops of one size; `batch` draws a random batch of them."""

    length: int

    def __len__(self) -> int:
        return self.length

    def batch(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """A random batch (N, 3, crop, crop) at indexes from the global RNG, which training
        states save: resume is exact (also used to fit tables after training)."""
        indexes = torch.randint(len(self), (batch_size,)).tolist()
        return torch.stack([self[i] for i in indexes]).to(device)


class RandomCrops(_Crops):
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

    def _image(self, index: int) -> torch.Tensor:
        item = self.images[index % len(self.images)]
        return load_image(item) if isinstance(item, Path) else item

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self._image(index))


def training_images(spec: str | os.PathLike) -> list[Image.Image | Path]:
    return list(image_source(spec).values())


PhotoSource = Path | Callable[[], Image.Image]
# Sources up to this many are decoded once (before DataLoader workers fork, so they share
# the pixels); larger folders are decoded per crop.
_PRELOAD_LIMIT = 64


class MultiScaleCrops(_Crops):
    """Crops drawn afresh from whole photos at random scales, as the corpus builder draws
    them (`photo_corpus.random_crop`), without a fixed corpus: a GPU sees millions of
    distinct crops where a corpus holds thousands.

    Item `i` is a pure function of `(seed, i)`, so DataLoader workers need no RNG plumbing
    and a resumed run sees exactly the crops it would have seen."""

    def __init__(
        self,
        sources: Sequence[PhotoSource],
        crop: int,
        min_scale: float,
        seed: int = 0,
        length: int = 1 << 40,
    ) -> None:
        if not sources:
            raise ImageError("no training photos")
        if not 0 < min_scale <= 1:
            raise ImageError(f"min_scale {min_scale}: must lie in (0, 1]")
        self.sources = list(sources)
        self.crop, self.min_scale, self.seed, self.length = crop, min_scale, seed, length
        self._loaded: list[Image.Image] | None = None
        if len(self.sources) <= _PRELOAD_LIMIT:
            self._loaded = [self._load(k) for k in range(len(self.sources))]

    def _load(self, k: int) -> Image.Image:
        source = self.sources[k]
        image = open_image(source) if isinstance(source, Path) else source()
        return image if image.mode == "RGB" else image.convert("RGB")

    def __getitem__(self, index: int) -> torch.Tensor:
        from nodecode.data.photo_corpus import random_crop

        rng = random.Random(f"{self.seed}:{index}")
        k = rng.randrange(len(self.sources))
        photo = self._loaded[k] if self._loaded is not None else self._load(k)
        if min(photo.size) < self.crop:  # a few in ImageNet: enlarged, not a crash hours in
            scale = self.crop / min(photo.size)
            w, h = (max(self.crop, round(side * scale)) for side in photo.size)
            photo = photo.resize((w, h), Image.Resampling.LANCZOS)
        crop = random_crop(photo, self.crop, self.min_scale, rng, reducing_gap=3.0)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return pil_to_tensor(crop)


def training_crops(
    spec: str | os.PathLike, crop: int, min_scale: float | None = None, seed: int = 0
) -> RandomCrops | MultiScaleCrops:
    """The crops a codec trains on. Without `min_scale`: `crop`² crops of the images as they
    are (a corpus of crops, or `skimage:train`). With it: multi-scale crops drawn afresh
    from whole photos, `photos:train` at their full source resolution or a directory."""
    if min_scale is None:
        return RandomCrops(training_images(spec), crop, length=1 << 30)
    from nodecode.data.images import CORPUS_PREFIX, find_images

    spec = str(spec)
    sources: list[PhotoSource]
    if spec.startswith(CORPUS_PREFIX):
        from nodecode.data.photo_corpus import source_photos

        sources = [p.load for p in source_photos(spec[len(CORPUS_PREFIX) :])]
    else:
        sources = list(find_images(spec))
    return MultiScaleCrops(sources, crop, min_scale, seed=seed)


def crop_batches(
    dataset: RandomCrops | MultiScaleCrops,
    batch_size: int,
    start_step: int,
    device: torch.device,
    workers: int = 0,
) -> Iterator[torch.Tensor]:
    """Training batches from step `start_step` on. Multi-scale crops come from DataLoader
    workers (index-seeded, so resume is exact); a corpus of crops draws in-process from the
    global RNG, which the train state saves."""
    if isinstance(dataset, RandomCrops):
        while True:
            yield dataset.batch(batch_size, device)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=range(start_step * batch_size, len(dataset)),  # type: ignore[arg-type]
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        # Its own generator: creating the loader must not draw from the global RNG, which
        # the train state saves and the post-training table fit uses.
        generator=torch.Generator(),
    )
    for x in loader:
        yield x.to(device, non_blocking=True)
