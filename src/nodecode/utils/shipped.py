"""What the weight enums of the codec and model zoos share (torchvision's `Weights` idea)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Self

from nodecode.errors import ConfigError


@dataclass(frozen=True)
class ShippedWeights:
    """A weights file in the package and how it was made."""

    spec: str  # the name every command takes (`--codec paper-0.330`, `--model cresnet51-0.330`)
    recipe: str  # the command, or where the commands that made it are written down


class ShippedEnum(Enum):
    """Base of an enum whose members' values are `ShippedWeights`."""

    @classmethod
    def from_spec(cls, spec: str) -> Self:
        for member in cls:
            if member.value.spec == spec:
                return member
        names = [member.value.spec for member in cls]
        raise ConfigError(f"no {cls.__name__} named {spec!r}: one of {names}")
