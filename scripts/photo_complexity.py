"""How busy each split of the photo corpus is: JPEG's bpp at fixed qualities, per split.

A codec with one target entropy spends more bits on busier photos, as JPEG at one quality
does; this shows how far the held-out test photos are from the calibration photos.

.venv/bin/python scripts/photo_complexity.py
"""

import io

import numpy as np

from nodecode.data.photo_corpus import whole_photos

QUALITIES = (10, 50, 85)


def jpeg_bpp(image, quality: int) -> float:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return 8 * len(buffer.getvalue()) / (image.width * image.height)


def main() -> None:
    means = {}
    print("| split | photos | " + " | ".join(f"JPEG q{q} bpp" for q in QUALITIES) + " |")
    print("|---|---|" + "---|" * len(QUALITIES))
    for split in ("train", "val", "test"):
        photos = whole_photos(split)
        means[split] = [np.mean([jpeg_bpp(p, q) for p in photos.values()]) for q in QUALITIES]
        print(f"| {split} | {len(photos)} | " + " | ".join(f"{m:.3f}" for m in means[split]) + " |")
    ratios = [t / c for t, c in zip(means["test"], means["train"], strict=True)]
    print(
        "\ntest / train: "
        + ", ".join(f"q{q}: {r:.2f}" for q, r in zip(QUALITIES, ratios, strict=True))
    )


if __name__ == "__main__":
    main()
