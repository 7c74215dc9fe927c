"""What a network reads from a compressed file: the latent kinds of each codec.

The paper's codec gives one latent, ẑ ("latent", also called "y"); CompressAI's hyperprior
models give ŷ and the hyperprior's scale σ̂ (Gupta et al. compare "y", "sigma" and both,
"y+sigma", fed to the two-branch stem). Every kind is at the codec's stride.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nodecode.errors import ConfigError

# Input kind → the latents it stacks along channels, in order (one stem branch each).
LATENT_INPUTS: dict[str, tuple[str, ...]] = {
    "latent": ("y_hat",),
    "y": ("y_hat",),
    "sigma": ("sigma",),
    "y+sigma": ("y_hat", "sigma"),
}
IMAGE_INPUTS = ("decoded", "rgb")
INPUTS = (*LATENT_INPUTS, *IMAGE_INPUTS)


def is_latent_input(kind: str) -> bool:
    return kind in LATENT_INPUTS


def branches(kind: str) -> int:
    """Stem branches a network on `kind` needs: 2 for "y+sigma", else 1."""
    return len(LATENT_INPUTS.get(kind, ("image",)))


def select_latents(kind: str, latents: dict[str, Tensor], where: str = "") -> Tensor:
    """The network input for `kind` from a codec's latents (N, C, h, w each)."""
    try:
        names = LATENT_INPUTS[kind]
    except KeyError:
        raise ConfigError(
            f"{where}unknown latent input {kind!r}; one of {list(LATENT_INPUTS)}"
        ) from None
    missing = [n for n in names if n not in latents]
    if missing:
        raise ConfigError(
            f"{where}input {kind!r} needs {' and '.join(names)}, but this codec gives only "
            f"{', '.join(sorted(latents))} (σ̂ comes from hyperprior codecs)"
        )
    return torch.cat([latents[n] for n in names], dim=1) if len(names) > 1 else latents[names[0]]
