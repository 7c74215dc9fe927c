"""The standard layouts, on tiny fixtures written in those layouts."""

import numpy as np
import pytest
import torch
from PIL import Image

from nodecode.data.datasets import image_splits
from nodecode.data.folders import VOC_CLASSES
from nodecode.errors import ConfigError


def write_image(path, size, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def imagenet_like(tmp_path):
    for split in ("train", "val"):
        for c, name in enumerate(("n01440764", "n01443537", "n01484850")):
            for i in range(2):
                write_image(tmp_path / split / name / f"{i}.JPEG", (50 + 7 * i, 61), c * 10 + i)
    return tmp_path


def test_image_folder_layout_with_paper_crops(imagenet_like):
    data = image_splits("classification", f"imagefolder:{imagenet_like}", image_size=32)
    assert data.num_classes == 3 and data.classes[0] == "n01440764"
    image, label = data.train[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 1
    assert len(data.test) == 6 and data.test[0][0].shape == (3, 32, 32)


def test_missing_split_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="expected ROOT/train/<class>/"):
        image_splits("classification", f"imagefolder:{tmp_path}")


@pytest.fixture
def voc(tmp_path):
    base = tmp_path / "VOCdevkit" / "VOC2012"
    names = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"]}
    for split, ids in names.items():
        sets = base / "ImageSets" / "Segmentation"
        sets.mkdir(parents=True, exist_ok=True)
        (sets / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for k, name in enumerate(ids):
            write_image(base / "JPEGImages" / f"{name}.jpg", (30, 44), k)
            mask = np.zeros((30, 44), dtype=np.uint8)
            mask[5:15, 10:30] = 15  # person
            mask[0, :] = 255  # VOC's object boundary label
            (base / "SegmentationClass").mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(mask, mode="P")
            image.putpalette([0, 0, 0] * 256)
            image.save(base / "SegmentationClass" / f"{name}.png")
    return tmp_path


def test_voc_layout_pads_masks_with_the_ignore_label(voc):
    data = image_splits("segmentation", f"voc:{voc}", image_size=40)
    assert data.num_classes == 21 and data.classes == VOC_CLASSES
    image, mask = data.test[0]
    assert image.shape == (3, 40, 40) and mask.shape == (40, 40) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) <= {0, 15, 255}
    assert (mask == 15).sum() == 10 * 20
    assert (mask[30:, :] == 255).all()  # padding below the 30-pixel-high image is ignored
    train_image, train_mask = data.train[1]
    assert train_image.shape == (3, 40, 40) and (train_mask == 15).sum() == 200


def test_sbd_layout_adds_its_train_noval_images_to_voc_train(voc):
    """SBD as released (img/*.jpg, cls/*.mat with GTcls.Segmentation, train_noval.txt)."""
    from scipy.io import savemat

    sbd = voc / "SBD"
    (sbd / "img").mkdir(parents=True)
    (sbd / "cls").mkdir()
    ids = ["2008_000002", "2008_000003", "2008_000007"]
    (sbd / "train_noval.txt").write_text("\n".join(ids) + "\n")
    for k, name in enumerate(ids):
        write_image(sbd / "img" / f"{name}.jpg", (36, 36), k)
        mask = np.zeros((36, 36), dtype=np.uint8)
        mask[10:20, 10:20] = 12  # dog
        savemat(sbd / "cls" / f"{name}.mat", {"GTcls": {"Segmentation": mask}})
    data = image_splits("segmentation", f"voc:{voc}", image_size=40)
    assert len(data.train) == 2 + 3 and len(data.test) == 1  # SBD only joins training
    image, mask = data.train[2 + 1]
    assert image.shape == (3, 40, 40) and mask.dtype == torch.int64
    assert (mask == 12).sum() == 100 and set(mask.unique().tolist()) <= {0, 12, 255}
    assert (mask == 255).sum() == 40 * 40 - 36 * 36  # padding to the crop is ignored
