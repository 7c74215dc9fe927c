"""How busy each split of the photo corpus is: JPEG's bpp at fixed qualities, per split
(and `photos:independent`, the evaluation-only photos, when their packages are installed).

A codec with one target entropy spends more bits on busier photos, as JPEG at one quality
does; this shows how far the held-out test photos are from the calibration photos.

.venv/bin/python scripts/photo_complexity.py
"""

import io

import numpy as np

from nodecode.data.photo_corpus import whole_photos
from nodecode.errors import ImageError

QUALITIES = (10, 50, 85)


def jpeg_bpp(image, quality: int) -> float:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return 8 * len(buffer.getvalue()) / (image.width * image.height)


def main() -> None:
    means = {}
    print("| split | photos | " + " | ".join(f"JPEG q{q} bpp" for q in QUALITIES) + " |")
    print("|---|---|" + "---|" * len(QUALITIES))
    for split in ("train", "val", "test", "independent"):
        try:
            photos = whole_photos(split)
        except ImageError as error:
            if split != "independent":  # only the independent photos' packages are optional
                raise
            print(f"| {split} | — | {error} |")
            continue
        means[split] = [np.mean([jpeg_bpp(p, q) for p in photos.values()]) for q in QUALITIES]
        print(f"| {split} | {len(photos)} | " + " | ".join(f"{m:.3f}" for m in means[split]) + " |")
    for split in ("test", "independent"):
        if split in means:
            ratios = [t / c for t, c in zip(means[split], means["train"], strict=True)]
            pairs = zip(QUALITIES, ratios, strict=True)
            print(f"\n{split} / train: " + ", ".join(f"q{q}: {r:.2f}" for q, r in pairs))


if __name__ == "__main__":
    main()
