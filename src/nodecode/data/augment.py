"""Paired augmentation of App. A.4/A.5: random mirror and random crop, on images or latents.

Crops are pad-and-crop shifts, so inputs keep their size; for segmentation the mask moves
by the same amount in image pixels (× the latent stride) and padding is ignored (255).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from nodecode.errors import ConfigError

IGNORE_INDEX = 255


class MirrorShift(Dataset):
    """Wraps (input, target) pairs; randomness comes from torch's global RNG."""

    def __init__(self, dataset: Dataset, pad: int, mask_scale: int = 1) -> None:
        self.dataset, self.pad, self.mask_scale = dataset, pad, mask_scale

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]  # map-style datasets are sized

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, target = self.dataset[index]
        is_mask = target.dim() == 2
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
            target = target.flip(-1) if is_mask else target
        if self.pad:
            h, w = x.shape[-2:]
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2,)).tolist()
            x = F.pad(x[None], [self.pad] * 4, mode="replicate")[0, :, dy : dy + h, dx : dx + w]
            if is_mask:
                p, s = self.pad * self.mask_scale, self.mask_scale
                mh, mw = target.shape
                padded = F.pad(target, [p] * 4, value=IGNORE_INDEX)
                target = padded[dy * s : dy * s + mh, dx * s : dx * s + mw]
        return x, target


class GridCrop(Dataset):
    """Crops of `size` pixels from (input, target) pairs encoded at a larger size, on the
    latent grid: random offsets for training, the centre for evaluation — the paper's
    random 28-of-32 latent crops (App. A.4), which decoded images take at the same places
    (offsets in whole latent positions, so both inputs see the same pixels).

    Items are latents (`latents`: one position per `latent_stride` pixels) or images. Masks
    are cropped in image pixels. Randomness comes from torch's global RNG."""

    def __init__(
        self, dataset: Dataset, size: int, latent_stride: int, latents: bool, train: bool
    ) -> None:
        if size % latent_stride:
            raise ConfigError(f"crop {size} is not a multiple of the latent stride {latent_stride}")
        self.dataset, self.size, self.train = dataset, size, train
        self.latent_stride = latent_stride
        self.stride = latent_stride if latents else 1  # image pixels per input position

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]  # map-style datasets are sized

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, target = self.dataset[index]
        # Free latent positions along each axis of the image the input covers.
        spare = [(n * self.stride - self.size) // self.latent_stride for n in x.shape[-2:]]
        if min(spare) < 0:
            raise ConfigError(
                f"crop {self.size} is larger than the encoded images "
                f"({x.shape[-2] * self.stride}x{x.shape[-1] * self.stride})"
            )
        if self.train:
            offsets = [int(torch.randint(0, free + 1, ())) for free in spare]
        else:
            offsets = [free // 2 for free in spare]
        y0, x0 = (offset * self.latent_stride for offset in offsets)  # in image pixels
        top, left, n = y0 // self.stride, x0 // self.stride, self.size // self.stride
        x = x[..., top : top + n, left : left + n]
        if target.dim() == 2:
            target = target[y0 : y0 + self.size, x0 : x0 + self.size]
        return x, target


def channel_mean(dataset: Dataset, limit: int = 4096, transform: nn.Module | None = None) -> Tensor:
    """Per-channel mean over (up to `limit`) training inputs, shaped (1, C, 1, 1); with
    `transform`, of what it makes of the items (a batch at a time, on its device)."""
    n = min(len(dataset), limit)  # type: ignore[arg-type]  # map-style datasets are sized
    if transform is None:
        total = sum(dataset[i][0].double().mean(dim=(1, 2)) for i in range(n))
        return (total / n).float().view(1, -1, 1, 1)
    device = next(transform.parameters()).device
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, n, 64):
        batch = torch.stack([dataset[i][0] for i in range(start, min(n, start + 64))])
        total = total + transform(batch.to(device)).double().mean(dim=(2, 3)).sum(0).cpu()
    return (total / n).float().view(1, -1, 1, 1)
