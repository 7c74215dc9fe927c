"""The natural-photo corpus builder: split by photo, multi-scale crops, deterministic."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from nodecode.data.photo_corpus import (
    WALLPAPER_PHOTOS,
    CorpusConfig,
    Photo,
    build_corpus,
    default_photos,
    evaluation_photo,
    folder_photos,
)
from nodecode.errors import ImageError

SMALL = CorpusConfig(crop=32, crops_per_photo=5, min_scale=0.25, eval_long_side=48)


def gradient_photo(seed: int, size=(120, 90)) -> Image.Image:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(array)


def fixture_photos() -> list[Photo]:
    splits = ["train", "train", "train", "val", "test"]
    return [
        Photo(f"p{i}", "fixture", split, lambda i=i: gradient_photo(i))
        for i, split in enumerate(splits)
    ]


def test_corpus_splits_by_photo_and_writes_crops_of_the_right_size(tmp_path):
    manifest = build_corpus(tmp_path, fixture_photos(), SMALL)
    train = sorted((tmp_path / "train").glob("*.png"))
    assert len(train) == 3 * SMALL.crops_per_photo
    assert all(Image.open(p).size == (32, 32) for p in train)
    # Held-out photos are whole (long side 48, sides multiples of 8), never cropped.
    assert [p.name for p in (tmp_path / "val").iterdir()] == ["p3.png"]
    assert Image.open(tmp_path / "test" / "p4.png").size == (48, 32)
    names = {e["split"]: set() for e in manifest["photos"]}
    for entry in manifest["photos"]:
        names[entry["split"]].add(entry["name"])
    assert names["train"].isdisjoint(names["val"] | names["test"])
    saved = json.loads((tmp_path / "manifest.json").read_text())
    assert saved["config"]["crop"] == 32 and len(saved["photos"]) == 5


def test_corpus_is_deterministic_and_multi_scale(tmp_path):
    first = build_corpus(tmp_path / "a", fixture_photos(), SMALL)
    second = build_corpus(tmp_path / "b", fixture_photos(), SMALL)
    assert first == second
    # Crops of one photo come from different scales: their detail (pixel variation) differs.
    crops = [np.asarray(Image.open(p), float) for p in sorted((tmp_path / "a/train").glob("p0-*"))]
    roughness = [np.abs(np.diff(c, axis=0)).mean() for c in crops]
    assert max(roughness) > 1.2 * min(roughness)


def test_user_folder_is_split_by_photo(tmp_path):
    for i in range(6):
        gradient_photo(i).save(tmp_path / f"img{i}.png")
    photos = folder_photos(tmp_path, holdout=1)
    assert sorted(p.split for p in photos) == ["test", "train", "train", "train", "train", "val"]
    with pytest.raises(ImageError, match="at least 7 images"):
        folder_photos(tmp_path, holdout=3)


def test_too_small_photos_and_missing_wallpapers_are_clear_errors(tmp_path):
    tiny = [Photo("tiny", "fixture", "train", lambda: gradient_photo(0, (20, 20)))]
    with pytest.raises(ImageError, match="smaller than a 32"):
        build_corpus(tmp_path, tiny, SMALL)
    with pytest.raises(ImageError, match="apt-get install lomiri-wallpapers"):
        default_photos(tmp_path)


def test_evaluation_photos_are_multiples_of_eight():
    assert evaluation_photo(gradient_photo(0, (1000, 667))).size == (768, 512)
    assert len(WALLPAPER_PHOTOS) >= 12


def test_cli_builds_a_corpus_from_a_user_folder(tmp_path, capsys):
    from nodecode.cli.main import main

    for i in range(6):
        gradient_photo(i).save(tmp_path / f"img{i}.png")
    args = ["data", "photos", "--data", str(tmp_path), "-o", str(tmp_path / "corpus")]
    args += ["--crop", "32", "--crops-per-photo", "3", "--eval-long-side", "64"]
    assert main([*args, "--json", str(tmp_path / "c.json")]) == 0
    assert "train" in capsys.readouterr().out
    assert len(list((tmp_path / "corpus" / "train").glob("*.png"))) == 3 * 2
    assert json.loads((tmp_path / "c.json").read_text())["images"]["train"] == 3 * 2
    # holdout=2 by default: 2 val + 2 test whole photos
    assert len(list((tmp_path / "corpus" / "test").glob("*.png"))) == 2


def _photo_folder(tmp_path, count=3):
    for i in range(count):
        gradient_photo(i, size=(160 + 20 * i, 120)).save(tmp_path / f"photo{i}.png")
    return tmp_path


def test_multiscale_crops_are_a_pure_function_of_seed_and_index(tmp_path):
    from nodecode.data.crops import MultiScaleCrops, training_crops

    folder = _photo_folder(tmp_path)
    crops = training_crops(folder, 32, min_scale=0.25)
    assert isinstance(crops, MultiScaleCrops) and len(crops.sources) == 3
    again = training_crops(folder, 32, min_scale=0.25)
    x = crops[7]
    assert x.shape == (3, 32, 32) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, again[7])  # another instance (another worker) draws the same
    assert not torch.equal(x, crops[8])
    assert not torch.equal(x, training_crops(folder, 32, min_scale=0.25, seed=1)[7])


def test_crop_batches_start_where_a_resumed_run_left_off(tmp_path):
    from nodecode.data.crops import crop_batches, training_crops

    crops = training_crops(_photo_folder(tmp_path), 32, min_scale=0.5)
    batches = crop_batches(crops, 4, start_step=2, device=torch.device("cpu"), workers=1)
    first = next(batches)
    assert torch.equal(first, torch.stack([crops[i] for i in range(8, 12)]))


def test_a_photo_smaller_than_the_crop_is_enlarged_not_fatal(tmp_path):
    """ImageNet holds a few images under 224 pixels a side; hours into a codec run, one of
    them must not end it."""
    from nodecode.data.crops import training_crops

    Image.new("RGB", (50, 30), (200, 30, 10)).save(tmp_path / "small.png")
    crops = training_crops(tmp_path, 64, min_scale=1.0)
    x = crops[0]
    assert x.shape == (3, 64, 64)
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor([200, 30, 10]) / 255, atol=0.01)


def test_multiscale_crops_reject_a_bad_scale_and_an_empty_source(tmp_path):
    from nodecode.data.crops import MultiScaleCrops, training_crops

    with pytest.raises(ImageError, match="min_scale"):
        training_crops(_photo_folder(tmp_path), 32, min_scale=1.5)
    with pytest.raises(ImageError, match="no training photos"):
        MultiScaleCrops([], 32, 0.5)


def test_independent_photos_are_for_evaluation_only(tmp_path, monkeypatch):
    from nodecode.data import independent_photos
    from nodecode.data.photo_corpus import source_photos, whole_photos

    with pytest.raises(ImageError, match="apt-get install mate-backgrounds"):
        independent_photos.independent_photos(tmp_path)
    for i, path in enumerate(independent_photos.photo_paths(tmp_path).values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        gradient_photo(i, (1000, 700)).save(path, format="JPEG")
    monkeypatch.setattr(independent_photos, "SHARE", tmp_path)
    photos = whole_photos("independent")
    assert len(photos) == 23 and {p.size for p in photos.values()} == {(768, 536)}
    # Never a source of training crops.
    with pytest.raises(ImageError, match="for evaluation only"):
        source_photos("independent")
