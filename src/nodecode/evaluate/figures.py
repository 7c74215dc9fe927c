"""Figures about latents, like the paper's Fig. 9."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from nodecode.codec.entropy import empirical_entropy_bits
from nodecode.utils.io import atomic_path


def plot_latent_channels(
    image: Tensor, symbols: Tensor, num_centers: int, path: Path, title: str = "", count: int = 4
) -> None:
    """The decoded image beside the `count` highest-entropy latent channels (App. A.2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entropy = empirical_entropy_bits(symbols, num_centers)
    top = entropy.argsort(descending=True)[:count].tolist()
    fig, axes = plt.subplots(1, 1 + len(top), figsize=(3.2 * (1 + len(top)), 3.4))
    axes[0].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title(f"decoded {title}".strip(), fontsize=9)
    for ax, channel in zip(axes[1:], top, strict=True):
        used = int(symbols[channel].unique().numel())
        ax.imshow(symbols[channel].numpy(), cmap="gray", vmin=0, vmax=num_centers - 1)
        ax.set_title(f"channel {channel}: H={entropy[channel]:.2f} b, {used} centers", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
