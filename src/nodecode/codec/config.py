"""Codec configuration and the paper's three operating points (Torfason et al. 2018, App. A.1)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from nodecode.bitstream.container import MAX_LATENT_CHANNELS
from nodecode.bitstream.context import MAX_CONTEXT_CENTERS, MAX_CONTEXT_LEVELS
from nodecode.errors import ConfigError
from nodecode.utils.checks import is_finite_number, is_integer

if TYPE_CHECKING:
    from torch import Tensor

Rate = TypeVar("Rate", float, "Tensor")  # a number, or a tensor of them

UPSAMPLING = ("subpixel", "transposed")
# "hard": the hinge sees the entropy of the hard symbols (the rate the file will have) and
# takes its gradient from the soft histogram; "soft": the soft histogram's own entropy, which
# overestimates the hard one by 0.09–0.28 bits/symbol at σ = 1 and so undershoots the target.
RATE_ESTIMATES = ("hard", "soft")
# What a checkpoint written before a field existed meant by leaving it out.
_LEGACY = {"upsampling": "transposed", "rate_estimate": "soft", "context_levels": 0}
# Bounds a checkpoint's config must respect before anything is allocated: width 16 is
# 1,024/2,048 channels, far beyond any codec here; channels match the .ndc limit.
MAX_WIDTH = 16.0


def _check_types(cfg: CodecConfig) -> None:
    """Untrusted JSON: ints must be ints and floats finite numbers (not NaN, inf or text)."""
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if field.type == "int" and not is_integer(value):
            raise ConfigError(f"codec config {field.name}={value!r} is not an integer")
        if field.type == "float" and not is_finite_number(value):
            raise ConfigError(f"codec config {field.name}={value!r} is not a finite number")
        if field.type == "str" and not isinstance(value, str):
            raise ConfigError(f"codec config {field.name}={value!r} is not a string")


@dataclass(frozen=True)
class CodecConfig:
    """Everything needed to rebuild a codec; stored as JSON beside its weights.

    Defaults are the paper's 0.635 bpp operating point at full width (64/128 channels).
    """

    latent_channels: int = 32
    width: float = 1.0
    num_centers: int = 6
    center_init_range: float = 2.0
    softmax_sigma: float = 1.0
    target_entropy: float = 1.265
    beta: float = 150.0
    upsampling: str = "subpixel"
    rate_estimate: str = "hard"
    # Entropy coding: 0 codes every symbol under its channel's static table (the paper);
    # n > 0 codes the latent coarse to fine in 2n + 1 passes, each symbol under a table for
    # its four known neighbours (bitstream/context.py). Same latent, 15–27 % fewer bits.
    context_levels: int = 0

    @property
    def channels(self) -> tuple[int, int]:
        """Widths of the two strided stages; the paper's are 64 and 128 (3.56e9 MACs at 224²)."""
        return max(1, round(64 * self.width)), max(1, round(128 * self.width))

    @property
    def nominal_bpp(self) -> float:
        """The rate the codec was trained for: the paper's operating point with this many
        latent channels (8, 16, 32: App. A.1), else H_t · C / 64. Not H_t itself, which
        calibration moves away from its nominal value to land the rate there."""
        for point in OPERATING_POINTS.values():
            if point.latent_channels == self.latent_channels:
                return point.bpp
        return self.bpp(self.target_entropy)

    def bpp(self, entropy_bits: Rate) -> Rate:
        """bpp = H · C / 64: one symbol per latent entry, latent is h/8 × w/8 × C."""
        return entropy_bits * self.latent_channels / 64.0

    def to_json(self) -> str:
        # Fields at their legacy value are left out, so checkpoints written before those
        # fields existed keep their config JSON and with it their codec identity.
        data = {k: v for k, v in dataclasses.asdict(self).items() if _LEGACY.get(k, ...) != v}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodecConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown codec config keys {unknown}; known: {sorted(known)}")
        cfg = cls(**{**_LEGACY, **data})
        _check_types(cfg)
        if cfg.upsampling not in UPSAMPLING or cfg.rate_estimate not in RATE_ESTIMATES:
            raise ConfigError(
                f"invalid codec config: upsampling must be one of {UPSAMPLING}, "
                f"rate_estimate one of {RATE_ESTIMATES}"
            )
        if not (1 <= cfg.latent_channels <= MAX_LATENT_CHANNELS) or cfg.num_centers < 2:
            raise ConfigError(f"invalid codec config: {cfg}")
        if not 0 < cfg.width <= MAX_WIDTH:
            raise ConfigError(f"codec width {cfg.width} is outside (0, {MAX_WIDTH}]")
        if cfg.num_centers > 255:
            raise ConfigError("num_centers must be at most 255 (symbols are stored as uint8)")
        if not 0 <= cfg.context_levels <= MAX_CONTEXT_LEVELS:
            raise ConfigError(
                f"context_levels {cfg.context_levels} is outside [0, {MAX_CONTEXT_LEVELS}]"
            )
        if cfg.context_levels and cfg.num_centers > MAX_CONTEXT_CENTERS:
            raise ConfigError(
                f"context coding takes at most {MAX_CONTEXT_CENTERS} centers, not "
                f"{cfg.num_centers} (its tables grow as L⁴)"
            )
        return cfg


@dataclass(frozen=True)
class OperatingPoint:
    """A rate target from App. A.1: channels C, target entropy Ht, rate weight β and Adam lr."""

    bpp: float
    latent_channels: int
    target_entropy: float
    beta: float
    lr: float

    def codec_config(self, width: float = 1.0, **overrides: Any) -> CodecConfig:
        base = {
            "latent_channels": self.latent_channels,
            "width": width,
            "target_entropy": self.target_entropy,
            "beta": self.beta,
        }
        return CodecConfig(**{**base, **overrides})


# Ht = bpp·64/C for 0.330 (the paper gives no Ht there); β=600/150 are App. A.8's values for the
# other two points; the paper does not state β for 0.330, so we take the middle value 300.
OPERATING_POINTS: dict[str, OperatingPoint] = {
    "0.0983": OperatingPoint(0.0983, 8, 0.8, 600.0, 1e-3),
    "0.330": OperatingPoint(0.330, 16, 1.32, 300.0, 1e-5),
    "0.635": OperatingPoint(0.635, 32, 1.265, 150.0, 1e-3),
}


def operating_point(name: str) -> OperatingPoint:
    try:
        return OPERATING_POINTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown operating point {name!r}; choose one of {sorted(OPERATING_POINTS)}"
        ) from None
