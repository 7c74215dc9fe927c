"""A registry so one string names any network (as in timm): `create("cresnet51", ...)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from nodecode.errors import ConfigError

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return wrap


def list_models() -> list[str]:
    return sorted(_BUILDERS)


def create(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered network, e.g. `create("cresnet51", in_channels=32, width=0.25)`."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
    return builder(**kwargs)
