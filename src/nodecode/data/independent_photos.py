"""Photos for independent evaluation only: `photos:independent`.

The five held-out test photos of the corpus pin a codec's mean rate only to a standard
error of 8–15 % (docs/RESULTS.md §2b), and they come from the same wallpaper collections
as the training photos. These 23 photographs come from two other Debian packages,
`mate-backgrounds` (its `nature` folder) and `plasma-workspace-wallpapers` (drawings,
renderings and abstract art left out by hand). Nothing is trained, calibrated or tuned on
them: `source_photos` refuses the name, so they cannot become training crops.
"""

from __future__ import annotations

from pathlib import Path

from nodecode.data.photo_corpus import Photo, file_loader
from nodecode.errors import ImageError

SPLIT = "independent"
APT_PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")
SHARE = Path("/usr/share")

# The list was fixed by looking at the packages' thumbnails, before any codec saw a photo.
MATE_NATURE = (
    "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow",
    "LadyBird", "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower",
)  # fmt: skip
PLASMA_PHOTOS = (
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "Kite", "OneStandsOut", "Path", "summer_1am",
)  # fmt: skip


def photo_paths(share: Path | None = None) -> dict[str, Path]:
    """Name → source file (each photo at its largest size in the package)."""
    share = SHARE if share is None else share
    paths = {f"mate-{n}": share / "backgrounds/mate/nature" / f"{n}.jpg" for n in MATE_NATURE}
    paths |= {
        f"plasma-{n}": share / "wallpapers" / n / "contents/images/2560x1600.jpg"
        for n in PLASMA_PHOTOS
    }
    return paths


def independent_photos(share: Path | None = None) -> list[Photo]:
    """The source photos, in the corpus's `Photo` form; a clear error when the packages are
    not installed."""
    paths = photo_paths(share)
    missing = [p for p in paths.values() if not p.is_file()]
    if missing:
        raise ImageError(
            f"photos:{SPLIT}: {len(missing)} of {len(paths)} photos missing (e.g. {missing[0]}); "
            f"install them with `apt-get install {' '.join(APT_PACKAGES)}`"
        )
    return [Photo(name, f"debian:{path}", SPLIT, file_loader(path)) for name, path in paths.items()]
