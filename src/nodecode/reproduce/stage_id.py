"""A reproduction stage's identity as data: what it does, from which codec's files, with
which network and seed.

Plans build stages from these, results are keyed by them and the report looks rows up by
them, so no code reads meaning back out of a stage's name. `name` spells the id as the
stage's folder under `stages/` and its key in `results.json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# The steps a stage can take, the first word of its name.
STEPS = (
    "codec",  # train or name a codec
    "encode",  # write a latent cache
    "rate",  # bpp of real files
    "cls",  # train a classifier
    "seg",  # train a segmenter
    "joint",  # fine-tune codec and classifier together (App. A.7)
    "compression",  # fine-tune the codec alone: joint's control
    "eval",  # evaluate a fine-tuned classifier on its codec's new latents
    "rate-distortion",  # codecs against the classical ones
)
FINE_TUNING = ("joint", "compression")
EQUAL_RATE = "equal-rate"  # a rate-distortion stage that scores both arms at one rate


@dataclass(frozen=True)
class StageId:
    step: str
    codec: str | None = None  # an operating point or codec label; "rgb": original images
    model: str | None = None
    input: str | None = None  # where a plan runs one network on several inputs (Gupta)
    seed: int | None = None
    variant: str | None = None  # e.g. "joint": works from the jointly fine-tuned codec

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"unknown stage step {self.step!r}; one of {', '.join(STEPS)}")

    @property
    def name(self) -> str:
        words = (self.step, self.variant, self.codec, self.model, self.input)
        name = "-".join(w for w in words if w)
        return name if self.seed is None else f"{name}-s{self.seed}"

    @property
    def row(self) -> StageId:
        """The same stage over every seed: what a table row averages."""
        return dataclasses.replace(self, seed=None)

    def __str__(self) -> str:
        return self.name
