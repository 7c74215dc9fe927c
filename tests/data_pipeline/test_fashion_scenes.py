import numpy as np
import pytest
import torch

from nodecode.data import fashion_scenes
from nodecode.data.fashion_mnist import load_fashion_mnist
from nodecode.data.fashion_scenes import FashionScenes, ScenesConfig, generate
from nodecode.errors import ConfigError

SMALL = ScenesConfig(image_size=64, train_size=24, test_size=12, seed=3)


@pytest.fixture(scope="module")
def items():
    return load_fashion_mnist("train")


def test_fashion_mnist_is_read_from_the_debian_package(items):
    images, labels = items
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert sorted(np.unique(labels)) == list(range(10))
    test_images, _ = load_fashion_mnist("test")
    assert test_images.shape == (10000, 28, 28)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", tmp_path)


def test_generation_is_deterministic_and_seed_dependent(items):
    a = generate(SMALL, "segmentation", "train", *items)
    b = generate(SMALL, "segmentation", "train", *items)
    assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["targets"], b["targets"])
    other = generate(ScenesConfig(**{**SMALL.__dict__, "seed": 4}), "segmentation", "train", *items)
    assert not np.array_equal(a["images"], other["images"])


def test_classification_labels_are_item_classes(items):
    out = generate(SMALL, "classification", "train", *items)
    assert out["images"].shape == (24, 64, 64, 3) and out["targets"].shape == (24,)
    assert set(out["targets"].tolist()) <= set(range(10))


def test_masks_mark_exactly_the_pasted_item():
    canvas = np.full((16, 16, 3), 10.0, dtype=np.float32)
    mask = np.zeros((16, 16), dtype=np.uint8)
    item = np.zeros((28, 28), dtype=np.uint8)
    item[7:21, 7:21] = 255  # an opaque square in the middle of the item
    fashion_scenes._paste(canvas, mask, item, label=6, rng=np.random.default_rng(0), side=8)
    ys, xs = np.nonzero(mask)
    assert set(mask[mask > 0].tolist()) == {7}  # class 6 → mask value 7
    assert ys.max() - ys.min() + 1 == 4 and xs.max() - xs.min() + 1 == 4
    changed = np.abs(canvas - 10).sum(-1) > 1
    assert changed[mask > 0].all()
    assert not changed[mask == 0][np.abs(canvas - 10).sum(-1)[mask == 0] > 200].any()


def test_segmentation_masks_label_every_image(items):
    out = generate(SMALL, "segmentation", "test", *load_fashion_mnist("test"))
    masks = out["targets"]
    assert masks.shape == (12, 64, 64) and masks.max() <= 10
    assert all((m > 0).any() for m in masks)


def test_dataset_is_cached_and_returns_tensors(tmp_path, monkeypatch):
    monkeypatch.setenv("NODECODE_CACHE", str(tmp_path))
    monkeypatch.setitem(fashion_scenes.PRESETS, "unit", SMALL)
    data = FashionScenes("unit", "train", "segmentation")
    image, mask = data[0]
    assert image.shape == (3, 64, 64) and image.min() >= 0 and image.max() <= 1
    assert mask.shape == (64, 64) and mask.dtype == torch.int64
    assert data.path.is_file() and data.path.parent.parent.name == "fashion-scenes"
    again = FashionScenes("unit", "train", "segmentation")
    assert torch.equal(again.images, data.images)
