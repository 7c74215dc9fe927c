"""Gupta et al.'s datasets read in the layouts they are released in: MINC-2500 (images/ and
labels/ lists, five folds) and NWPU-RESISC45 (one folder per class, no official split)."""

import numpy as np
import pytest
from PIL import Image

from nodecode.data.datasets import image_splits
from nodecode.errors import ConfigError


def jpeg(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 50, 3), value, np.uint8)).save(path)


@pytest.fixture
def minc(tmp_path):
    root = tmp_path / "minc-2500"
    lists = {"train1.txt": [], "validate1.txt": [], "test1.txt": []}
    for c, name in enumerate(["brick", "carpet", "wood"]):
        for i in range(5):
            rel = f"images/{name}/{name}_{i:06d}.jpg"
            jpeg(root / rel, 40 * c + i)
            lists["train1.txt" if i < 3 else "validate1.txt" if i == 3 else "test1.txt"].append(rel)
    (root / "labels").mkdir()
    for file, lines in lists.items():
        (root / "labels" / file).write_text("\n".join(lines) + "\n")
    return root


def test_minc2500_reads_its_label_lists(minc):
    data = image_splits("classification", f"minc:{minc}", image_size=32)
    assert data.classes == ("brick", "carpet", "wood") and data.num_classes == 3
    assert len(data.train) == 9 and len(data.test) == 3
    image, label = data.test[2]
    assert image.shape == (3, 32, 32) and label == 2
    with pytest.raises(ConfigError, match="folds are 1"):
        image_splits("classification", f"minc:{minc}:7", image_size=32)
    (minc / "labels" / "test1.txt").write_text("images/stone/x.jpg\n")
    with pytest.raises(ConfigError, match="unexpected entry"):
        image_splits("classification", f"minc:{minc}", image_size=32)


def test_resisc45_is_split_per_class_by_file_name(tmp_path):
    root = tmp_path / "NWPU-RESISC45"
    for c, name in enumerate(["airport", "beach"]):
        for i in range(1, 11):
            jpeg(root / name / f"{name}_{i:03d}.jpg", 100 * c + i)
    data = image_splits("classification", f"resisc45:{root}", image_size=32)
    assert data.classes == ("airport", "beach")
    assert len(data.train) == 16 and len(data.test) == 4  # 8 + 2 per class
    half = image_splits("classification", f"resisc45:{root}:0.5", image_size=32)
    assert len(half.train) == len(half.test) == 10
    train_files = {f.name for f in half.train.files}
    assert not train_files & {f.name for f in half.test.files}
    assert "airport_001.jpg" in train_files and "airport_010.jpg" not in train_files
    with pytest.raises(ConfigError, match="train fraction"):
        image_splits("classification", f"resisc45:{root}:1.5", image_size=32)
    with pytest.raises(ConfigError, match="is for classification"):
        image_splits("segmentation", f"resisc45:{root}", image_size=32)
