"""Rate control at encode time: a file lands at a chosen bpp, the decoder untouched.

A paper codec has one rate per model, set in training by the mean entropy of its training
crops, and spends more on busier photos (per photo, `paper-0.330` ranges over a factor of 2
on the held-out photos: docs/results/paper-codec/rd_points.csv). Here each latent entry
takes the center that minimises (z − c)² + λ·bits(c), bits as the file will code them (in
context, for codecs that code so), so bits go where they buy the most distortion, and λ is
bisected per image until the whole file fits the target. λ = 0 is the plain nearest-center
encoding; the result is an ordinary `.ndc` file that any reader decodes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.errors import ConfigError, RateUnreachableError

NOMINAL = "nominal"
# λ in latent units² per bit. From FIRST_WEIGHT it grows ×4 until the file fits; by
# MAX_WEIGHT every entry takes its channel's cheapest center, the lowest reachable rate.
FIRST_WEIGHT = 1.0 / 64
MAX_WEIGHT = 4096.0
# Halvings of the last ×4 bracket: λ within 0.02 % of the smallest that fits.
BISECTION_STEPS = 12


@dataclass(frozen=True)
class RateControlled:
    """One image's strings under a byte budget, and the λ that got them there."""

    strings: list[bytes]
    rate_weight: float


def parse_target(text: str) -> float | str:
    """A `--bpp` argument: a positive rate in bits per pixel, or "nominal"."""
    if text == NOMINAL:
        return NOMINAL
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not _is_rate(value):
        raise ConfigError(f"{text!r} is neither a positive number of bits per pixel nor 'nominal'")
    return value


def target_bpp(codec: ConvAutoencoder, target: float | str) -> float:
    """`target` in bits per pixel; "nominal" is the codec's operating point."""
    if isinstance(target, str):
        target = parse_target(target)
    if target == NOMINAL:
        return codec.config.nominal_bpp
    if not _is_rate(target):
        raise ConfigError(f"target rate {target!r} bpp is not a positive number")
    return float(target)


def _is_rate(value: float | str) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def strings_within(
    codec: ConvAutoencoder, z: Tensor, max_payload_bytes: int, where: str = "image"
) -> RateControlled:
    """Strings of one image's latent z (1, C, h, w), before quantization, whose payload fits
    `max_payload_bytes`, with the smallest λ that fits (to 0.02 %): the least distortion at
    that rate."""

    def strings_at(weight: float) -> list[bytes]:
        return codec.compress_symbols(codec.quantize(z, weight))

    def fits(strings: list[bytes]) -> bool:
        return sum(map(len, strings)) <= max_payload_bytes

    best = strings_at(0.0)
    if fits(best):
        return RateControlled(best, 0.0)
    low, high = 0.0, FIRST_WEIGHT
    while not fits(candidate := strings_at(high)):
        if high >= MAX_WEIGHT:
            lowest = sum(map(len, candidate))
            raise RateUnreachableError(
                f"{where}: cannot fit a payload of {max_payload_bytes} bytes; codec "
                f"{codec.name!r} needs at least {lowest} bytes for it (every entry at its "
                "cheapest center): ask for a higher --bpp"
            )
        low, high = high, high * 4
    best = candidate
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        candidate = strings_at(middle)
        if fits(candidate):
            high, best = middle, candidate
        else:
            low = middle
    return RateControlled(best, high)
