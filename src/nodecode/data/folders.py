"""Standard on-disk layouts through torchvision: ImageNet-style folders and VOC2012 (+ SBD),
and Gupta et al.'s two datasets in the layouts they are released in.

`ImageFolder` fits ImageNet-style trees (ROOT/train/<class>/*, ROOT/val/<class>/*).
MINC-2500 as released: ROOT/images/<class>/*.jpg with ROOT/labels/{train,validate,test}K.txt
listing `images/<class>/<file>` per line (five splits, K = 1…5). NWPU-RESISC45 as released:
ROOT/<class>/<class>_NNN.jpg, 700 per class and no official split; here the first
`train_fraction` of each class (by file name) trains and the rest tests.
VOC2012 + SBD is the paper's segmentation data (App. A.5): VOC train plus SBD's
`train_noval` for training, VOC val (1,449 images) for evaluation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset
from torchvision import datasets
from torchvision.transforms import v2
from torchvision.tv_tensors import Mask

from nodecode.data.augment import IGNORE_INDEX
from nodecode.errors import ConfigError

VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


def imagefolder_transform(size: int, train: bool) -> v2.Compose:
    """App. A.4: resize the shorter side to size·8/7 (256 for 224), random or center crop,
    random mirror when training. Mean centering happens in the network."""
    steps = [v2.ToImage(), v2.Resize(round(size * 8 / 7), antialias=True)]
    steps += [v2.RandomCrop(size), v2.RandomHorizontalFlip()] if train else [v2.CenterCrop(size)]
    return v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True)])


def image_folder(root: str | Path, split: str, size: int, train_augment: bool) -> Dataset:
    folder = Path(root) / split
    if not folder.is_dir():
        raise ConfigError(f"{folder}: missing; expected ROOT/train/<class>/ and ROOT/val/<class>/")
    return datasets.ImageFolder(str(folder), transform=imagefolder_transform(size, train_augment))


class _PairTransform:
    """Image and mask together: pad (mask with the ignore label), crop, mirror (App. A.5)."""

    def __init__(self, size: int, train: bool) -> None:
        crop = v2.RandomCrop(size, pad_if_needed=True, fill={Mask: IGNORE_INDEX, "others": 0})
        center = v2.CenterCrop(size)
        steps = [crop, v2.RandomHorizontalFlip()] if train else [center]
        self.transform = v2.Compose([v2.ToImage(), *steps])
        self.size = size
        self.train = train

    def __call__(self, image, mask) -> tuple[Tensor, Tensor]:
        image = v2.functional.pil_to_tensor(image)
        mask = Mask(v2.functional.pil_to_tensor(mask))
        if not self.train:  # pad small images first so the center crop never invents labels
            h, w = image.shape[-2:]
            pad = [0, 0, max(0, self.size - w), max(0, self.size - h)]
            image = v2.functional.pad(image, pad, fill=0)
            mask = v2.functional.pad(mask, pad, fill=IGNORE_INDEX)
        image, mask = self.transform(image, mask)
        return v2.functional.to_dtype(image, torch.float32, scale=True), mask[0].long()


def voc_segmentation(root: str | Path, split: str, size: int, train_augment: bool) -> Dataset:
    """VOC2012 (ROOT/VOCdevkit/VOC2012) plus, for training, SBD (ROOT/SBD) when present."""
    root = Path(root)
    if not (root / "VOCdevkit" / "VOC2012").is_dir():
        raise ConfigError(f"{root}: expected VOCdevkit/VOC2012 (and optionally SBD/) inside")
    pair = _PairTransform(size, train_augment)
    voc = datasets.VOCSegmentation(str(root), year="2012", image_set=split, transforms=pair)
    if split != "train" or not (root / "SBD").is_dir():
        return voc
    sbd = datasets.SBDataset(
        str(root / "SBD"), image_set="train_noval", mode="segmentation", transforms=pair
    )
    return ConcatDataset([voc, sbd])


class FileList(Dataset):
    """(image, label) pairs from explicit paths, transformed like ImageFolder's."""

    def __init__(
        self, files: list[Path], labels: list[int], classes: list[str], transform: v2.Compose
    ) -> None:
        self.files, self.labels, self.classes, self.transform = files, labels, classes, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = datasets.folder.default_loader(str(self.files[index]))
        return self.transform(image), self.labels[index]


def minc2500(
    root: str | Path, split: str, size: int, train_augment: bool, fold: str = ""
) -> Dataset:
    """MINC-2500 from its release: "train" reads labels/trainK.txt, "val" testK.txt (K = `fold`,
    1 by default)."""
    root, fold = Path(root), fold or "1"
    if fold not in ("1", "2", "3", "4", "5"):
        raise ConfigError(f"minc:{root}:{fold}: MINC-2500's folds are 1…5")
    lists = {"train": f"train{fold}.txt", "val": f"test{fold}.txt"}
    listing = root / "labels" / lists[split]
    if not (root / "images").is_dir() or not listing.is_file():
        raise ConfigError(f"{root}: expected MINC-2500's images/<class>/ and labels/{lists[split]}")
    classes = sorted(d.name for d in (root / "images").iterdir() if d.is_dir())
    files, labels = [], []
    for line in listing.read_text().split():
        parts = Path(line).parts
        if len(parts) != 3 or parts[0] != "images" or parts[1] not in classes:
            raise ConfigError(f"{listing}: unexpected entry {line!r}")
        files.append(root / line)
        labels.append(classes.index(parts[1]))
    return FileList(files, labels, classes, imagefolder_transform(size, train_augment))


def resisc45(
    root: str | Path, split: str, size: int, train_augment: bool, fraction: str = ""
) -> Dataset:
    """NWPU-RESISC45 from its release, split per class by file name (no official split): the
    first `fraction` (0.8 by default) of each class trains."""
    root = Path(root)
    try:
        train_fraction = float(fraction or 0.8)
    except ValueError:
        train_fraction = -1.0
    if not 0 < train_fraction < 1:
        raise ConfigError(f"resisc45:{root}:{fraction}: the train fraction must be in (0, 1)")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not classes:
        raise ConfigError(f"{root}: expected NWPU-RESISC45's <class>/<class>_NNN.jpg folders")
    files, labels = [], []
    for label, name in enumerate(classes):
        images = sorted((root / name).glob("*.jpg"))
        cut = round(len(images) * train_fraction)
        chosen = images[:cut] if split == "train" else images[cut:]
        files += chosen
        labels += [label] * len(chosen)
    return FileList(files, labels, classes, imagefolder_transform(size, train_augment))
