"""Fashion-MNIST from local files (Debian's `dataset-fashion-mnist`) or torchvision's download."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from nodecode.errors import ConfigError
from nodecode.utils.network import downloads_allowed

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
HOW_TO_GET = (
    "Fashion-MNIST not found. Install it with `apt-get install dataset-fashion-mnist` "
    f"(files land in {DEBIAN_DIR}), pass --fashion-mnist DIR with the four idx files, "
    "or, where a network is available, add --download to the command (or set "
    "NODECODE_DOWNLOAD=1)."
)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[:2] != b"\0\0" or data[2] != 8:
        raise ConfigError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise ConfigError(f"{path}: truncated IDX file ({len(body)} bytes, dims {dims})")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def load_fashion_mnist(
    split: str, folder: str | os.PathLike | None = None, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Items (N, 28, 28) uint8 and labels (N,) of the `train` or `test` split."""
    if downloads_allowed(download or None):
        from torchvision.datasets import FashionMNIST

        root = Path(folder or Path.home() / ".cache" / "nodecode" / "fashion-mnist")
        data = FashionMNIST(str(root), train=split == "train", download=True)
        return data.data.numpy(), data.targets.numpy()
    folder = Path(folder) if folder is not None else DEBIAN_DIR
    images, labels = (_find(folder, stem) for stem in _FILES[split])
    if images is None or labels is None:
        raise ConfigError(HOW_TO_GET if folder == DEBIAN_DIR else f"{folder}: {HOW_TO_GET}")
    return _read_idx(images), _read_idx(labels).astype(np.int64)
