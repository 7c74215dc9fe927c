"""Figures about latents (the paper's Fig. 9) and decoded images side by side."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from nodecode.codec.entropy import empirical_entropy_bits
from nodecode.evaluate.plotting import pyplot, save_figure


def plot_latent_channels(
    image: Tensor, symbols: Tensor, num_centers: int, path: Path, title: str = "", count: int = 4
) -> None:
    """The decoded image beside the `count` highest-entropy latent channels (App. A.2)."""
    plt = pyplot()

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
    save_figure(fig, path)


def plot_scene_grid(dataset, path: Path, count: int = 16, columns: int = 8) -> None:
    """Images of a dataset in a grid; segmentation masks drawn as a coloured overlay."""
    plt = pyplot()
    import numpy as np

    from nodecode.data.fashion_scenes import CLASSES

    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows))
    palette = plt.get_cmap("tab10")(np.arange(10))[:, :3]
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= min(count, len(dataset)):
            continue
        image, target = dataset[i]
        shown = image.permute(1, 2, 0).numpy().copy()
        if target.dim() == 2:
            mask = target.numpy()
            for label in range(1, 11):
                shown[mask == label] = 0.45 * shown[mask == label] + 0.55 * palette[label - 1]
            ax.set_title(
                ",".join(sorted({CLASSES[m - 1][:7] for m in np.unique(mask) if m})), fontsize=6
            )
        else:
            ax.set_title(CLASSES[int(target)], fontsize=7)
        ax.imshow(shown)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_mask_examples(
    images: list[Tensor], masks: list[Tensor], predictions: dict[str, list[Tensor]], path: Path
) -> None:
    """Rows of image, ground truth and each named prediction (the paper's Fig. 5)."""
    plt = pyplot()

    columns = 2 + len(predictions)
    fig, axes = plt.subplots(len(images), columns, figsize=(2.1 * columns, 2.1 * len(images)))
    titles = ["image", "ground truth", *predictions]
    style = {"cmap": "tab20", "vmin": 0, "vmax": 19, "interpolation": "nearest"}
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        panels = [image.permute(1, 2, 0), mask, *(p[i] for p in predictions.values())]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(panel.numpy(), **({} if j == 0 else style))
            ax.axis("off")
            if i == 0:
                ax.set_title(titles[j], fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_crop_comparison(
    original: Tensor, rows: list[list[tuple[str, Tensor]]], path: Path, box: int = 192
) -> None:
    """One row per codec: the original and each decoded image, the same centre crop, so
    artefacts are compared at equal rate. `rows` holds (title, image) pairs."""
    plt = pyplot()

    h, w = original.shape[-2:]
    top, left = max(0, (h - box) // 2), max(0, (w - box) // 2)
    columns = 1 + max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.6 * columns, 2.8 * len(rows)))
    axes = [axes] if len(rows) == 1 else axes
    for ax_row, row in zip(axes, rows, strict=True):
        for ax, (title, image) in zip(ax_row, [("original", original), *row], strict=False):
            crop = image[:, top : top + box, left : left + box]
            ax.imshow(crop.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_title(title, fontsize=8)
        for ax in ax_row:
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
