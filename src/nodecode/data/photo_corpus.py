"""An offline corpus of natural photographs for codec training, split by photo.

Sources are the photographic wallpapers of Debian's `lomiri-wallpapers-16.04`,
`lomiri-wallpapers-20.04` and `ukui-wallpapers` (drawings and abstract art left out by
hand, listed below) and the photos bundled with scikit-image, scikit-learn and matplotlib.
No other photo collection is used for training: others stay free for independent tests.

Whole photos are held out for validation and test (never crops of a training photo). The
training split is random multi-scale crops: each photo is first downscaled by a random
factor, so the codec sees both fine texture of 4K originals and the denser detail of
images at the size people evaluate on (Kodak-like 768×512).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from nodecode.errors import ImageError
from nodecode.utils.io import atomic_path, atomic_write_text

WALLPAPERS = Path("/usr/share/backgrounds")
APT_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "ukui-wallpapers")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Photo:
    """One source photograph: where it comes from and which split it belongs to."""

    name: str
    origin: str
    split: str
    load: Callable[[], Image.Image] = field(repr=False, compare=False)


def file_loader(path: Path) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        with Image.open(path) as image:
            return image.convert("RGB")

    return load


def _skimage(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        from nodecode.data.photos import load_photo

        return load_photo(name)

    return load


def _sklearn(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image(name))

    return load


def _matplotlib(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import matplotlib.cbook

        with Image.open(matplotlib.cbook.get_sample_data(name)) as image:  # type: ignore[arg-type]
            return image.convert("RGB")

    return load


# Photographs among the wallpapers, by file name (the rest are renderings and drawings).
# val/test photos are whole-photo hold-outs chosen for variety: landscape, water and rock,
# an indoor still life, animals and a backlit scene.
WALLPAPER_PHOTOS = {
    "Bridge_by_Sander_Klootwijk.jpg": "train",
    "Dragonfly_by_Bolly.jpg": "train",
    "Kleiber_by_Lukas_Baubkus.jpg": "train",
    "Picture_1A_by_freespace.jpg": "train",
    "Wine_by_Jakkub_Mede.jpg": "train",
    "free_by_Peter_Nerlich.jpg": "train",
    "greentock_by_Peter_Nerlich.jpg": "train",
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": "train",
    "seeding_by_Clements_Engelhardt.jpg": "train",
    "friends_by_Aitzol_Berasategi.jpg": "val",
    "sunset_by_Aitzol_Berasategi.jpg": "val",
    "aitzgorri_by_Aitzol_Berasategi.jpg": "test",
    "life_by_Aitzol_Berasategi.jpg": "test",
    "Picture_0B_by_freespace.jpg": "test",
}
# The bundled package photos; skimage's astronaut and coffee stay the held-out pair they
# have always been (docs/RESULTS.md compares against them).
PACKAGE_PHOTOS = (
    Photo("skimage-chelsea", "scikit-image", "train", _skimage("chelsea")),
    Photo("skimage-rocket", "scikit-image", "train", _skimage("rocket")),
    Photo("skimage-motorcycle", "scikit-image", "train", _skimage("stereo_motorcycle")),
    Photo("sklearn-china", "scikit-learn", "train", _sklearn("china.jpg")),
    Photo("sklearn-flower", "scikit-learn", "train", _sklearn("flower.jpg")),
    Photo("matplotlib-grace_hopper", "matplotlib", "train", _matplotlib("grace_hopper.jpg")),
    Photo("skimage-astronaut", "scikit-image", "test", _skimage("astronaut")),
    Photo("skimage-coffee", "scikit-image", "test", _skimage("coffee")),
)


def default_photos(wallpapers: Path = WALLPAPERS) -> list[Photo]:
    """Every source photo; a clear error when the Debian wallpaper packages are missing."""
    missing = [n for n in WALLPAPER_PHOTOS if not (wallpapers / n).is_file()]
    if missing:
        raise ImageError(
            f"{wallpapers}: {len(missing)} wallpaper photos missing (e.g. {missing[0]}); "
            f"install them with `apt-get install {' '.join(APT_PACKAGES)}`"
        )
    photos = [
        Photo(Path(n).stem, f"debian:{wallpapers / n}", split, file_loader(wallpapers / n))
        for n, split in WALLPAPER_PHOTOS.items()
    ]
    return photos + list(PACKAGE_PHOTOS)


def folder_photos(folder: Path, holdout: int = 2) -> list[Photo]:
    """A user directory (`--data DIR`): the same split by photo, `holdout` each for val/test."""
    from nodecode.data.images import find_images

    paths = find_images(folder)
    if len(paths) < 2 * holdout + 1:
        raise ImageError(f"{folder}: needs at least {2 * holdout + 1} images to split by photo")
    order = sorted(paths, key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    splits = ["test"] * holdout + ["val"] * holdout + ["train"] * (len(paths) - 2 * holdout)
    return [Photo(p.stem, str(p), s, file_loader(p)) for p, s in zip(order, splits, strict=True)]


@dataclass(frozen=True)
class CorpusConfig:
    """How crops are drawn; stored in the corpus's manifest.json."""

    crop: int = 256
    crops_per_photo: int = 300
    min_scale: float = 0.125
    eval_long_side: int = 768
    seed: int = 0


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def evaluation_photo(
    image: Image.Image, long_side: int = CorpusConfig.eval_long_side
) -> Image.Image:
    """A held-out photo as evaluated: long side 768 (Kodak-like), sides multiples of 8 so no
    codec pads (the few extra pixels are cropped)."""
    whole = resize_long_side(image, long_side)
    return whole.crop((0, 0, whole.width - whole.width % 8, whole.height - whole.height % 8))


def whole_photos(split: str) -> dict[str, Image.Image]:
    """`photos:test` / `photos:val`: the held-out photos, whole, straight from their sources.

    `photos:train` gives the training photos the same way, for measuring a codec's file rate
    on many whole photos (calibration); the two held-out photos of `val` are too few to
    stand for the rate of unseen photos. `photos:independent` are photos of other
    collections, for evaluation only (data/independent_photos.py)."""
    from nodecode.data import independent_photos

    if split == independent_photos.SPLIT:
        photos = independent_photos.independent_photos()
    else:
        photos = source_photos(split)
    return {p.name: evaluation_photo(p.load()) for p in photos}


def source_photos(split: str) -> list[Photo]:
    """The photos of a split at full resolution, for online multi-scale crops."""
    if split not in SPLITS:
        raise ImageError(
            f"photos:{split}: unknown split; choose photos:train, photos:val or photos:test "
            "(photos:independent is for evaluation only)"
        )
    return [p for p in default_photos() if p.split == split]


def random_crop(
    image: Image.Image,
    crop: int,
    min_scale: float,
    rng: random.Random,
    reducing_gap: float | None = None,
) -> Image.Image:
    """One `crop`² crop at a random scale between full resolution and `min_scale` (never so
    small that the photo is narrower than a crop), log-uniformly drawn.

    `reducing_gap` lets Pillow box-reduce large windows before LANCZOS (several times
    faster on 4K photos, visually the same); the corpus builder keeps plain LANCZOS."""
    smallest = max(min_scale, crop / min(image.size))
    if smallest > 1:
        raise ImageError(f"photo of {image.size} is smaller than a {crop}² crop")
    scale = math.exp(rng.uniform(math.log(smallest), 0.0))
    w, h = int(image.width * scale), int(image.height * scale)
    # Crop the source window first, then resize only that window: cheap on 4K photos.
    x0, y0 = rng.randrange(w - crop + 1), rng.randrange(h - crop + 1)
    x1 = min(image.width, (x0 + crop) / scale)
    y1 = min(image.height, (y0 + crop) / scale)
    box = (x0 / scale, y0 / scale, x1, y1)
    return image.resize((crop, crop), Image.Resampling.LANCZOS, box=box, reducing_gap=reducing_gap)


def random_crops(image: Image.Image, config: CorpusConfig, rng: random.Random) -> list[Image.Image]:
    """`config.crops_per_photo` crops of one photo (see `random_crop`)."""
    return [
        random_crop(image, config.crop, config.min_scale, rng)
        for _ in range(config.crops_per_photo)
    ]


def _save_png(image: Image.Image, path: Path) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()[:16]


def build_corpus(
    out: str | os.PathLike,
    photos: Sequence[Photo] | None = None,
    config: CorpusConfig = CorpusConfig(),
) -> dict:
    """Write out/{train,val,test}/*.png and out/manifest.json; returns the manifest.

    Deterministic for a given config and source photos (each photo seeds its own RNG).
    """
    out = Path(out)
    photos = list(photos) if photos is not None else default_photos()
    if not any(p.split == "train" for p in photos):
        raise ImageError("no training photos among the sources")
    manifest: dict = {"config": asdict(config), "photos": []}
    for photo in tqdm(photos, desc="photo corpus", unit="photo"):
        image = photo.load()
        entry = {"name": photo.name, "origin": photo.origin, "split": photo.split}
        entry["source_size"] = list(image.size)
        if photo.split == "train":
            seed = int(hashlib.sha256(f"{config.seed}:{photo.name}".encode()).hexdigest()[:8], 16)
            crops = random_crops(image, config, random.Random(seed))
            entry["files"] = {
                f"train/{photo.name}-{i:04d}.png": _save_png(
                    c, out / "train" / f"{photo.name}-{i:04d}.png"
                )
                for i, c in enumerate(crops)
            }
        else:
            whole = resize_long_side(image, config.eval_long_side)
            # Codecs work on multiples of 8 without padding; crop the few extra pixels.
            whole = whole.crop(
                (0, 0, whole.width - whole.width % 8, whole.height - whole.height % 8)
            )
            name = f"{photo.split}/{photo.name}.png"
            entry["files"] = {name: _save_png(whole, out / name)}
        manifest["photos"].append(entry)
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    return manifest


def corpus_summary(manifest: dict) -> dict[str, int]:
    counts = dict.fromkeys(SPLITS, 0)
    for entry in manifest["photos"]:
        counts[entry["split"]] += len(entry["files"])
    return counts
