"""Figs. 3–9 of the report, drawn from a reproduction's results."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from nodecode.evaluate.plotting import pyplot, save_figure
from nodecode.models import reads_latents
from nodecode.reproduce.presets import LOWEST, OPS
from nodecode.reproduce.records import Results
from nodecode.reproduce.results import (
    codec_name,
    cost_rows,
    fine_tuning_summary,
    joint_ops,
    metric_values,
    quality_rows,
    stage_log,
)
from nodecode.reproduce.stage_id import StageId
from nodecode.utils.stats import mean_and_standard_error


def _round_top1(row: dict[str, str]) -> float:
    """A round's top-1: on the validation split where the run held one out, else on test."""
    return float(row.get("val_top1") or row["top1"])


def figure_curves(results: Results, path: Path) -> None:
    """Figs. 3–4: top-1 after each epoch for each network at each operating point (on the
    validation split where there is one: the test split is scored once, at the end)."""
    plt = pyplot()
    validation = False
    fig, axes = plt.subplots(1, len(OPS), figsize=(5 * len(OPS), 3.8), sharey=True)
    models = ("cresnet39", "cresnet51", "cresnet72", "resnet50", "resnet71")
    for ax, op in zip(axes, OPS, strict=True):
        for index, model in enumerate(models):  # one colour per network in every panel
            id = StageId("cls", op, model, seed=0)
            if id in results:
                rows = stage_log(results, id)
                validation |= "val_top1" in rows[0]
                ax.plot(
                    [int(r["round"]) for r in rows],
                    [_round_top1(r) for r in rows],
                    "o-" if reads_latents(model) else "s--",
                    color=f"C{index}",
                    label=model,
                )
        rgb = stage_log(results, StageId("cls", "rgb", "resnet50", seed=0))
        ax.plot(
            [int(r["round"]) for r in rgb],
            [_round_top1(r) for r in rgb],
            ":",
            c="k",
            label="resnet50 (RGB)",
        )
        ax.set_title(f"{op} bpp")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)  # panels hold different networks (cResNet-72 only at 0.0983)
    axes[0].set_ylabel(f"{'validation' if validation else 'test'} top-1 (%)")
    fig.tight_layout()
    save_figure(fig, path)


def figure_costs(results: Results, size: int, path: Path) -> None:
    """Fig. 6: top-1 and mIoU against MACs at the lowest rate, with and without decoding."""
    plt = pyplot()
    rows = cost_rows(results, LOWEST, size)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, macs in ((axes[0], "top1", ""), (axes[1], "miou", "seg_")):
        for row in rows:
            x0, x1 = row[f"{macs}macs"] / 1e6, row[f"{macs}macs_with_decoder"] / 1e6
            marker = "o" if reads_latents(row["network"]) else "s"
            ax.plot([x0], [row[metric]], marker, label=row["network"])
            if x1 != x0:
                ax.plot([x1], [row[metric]], marker, mfc="none", c=ax.lines[-1].get_color())
                ax.annotate(
                    "",
                    (x1, row[metric]),
                    (x0, row[metric]),
                    arrowprops={"arrowstyle": "->", "alpha": 0.5},
                )
        ax.set_xlabel("MMACs per image (hollow: + decoder)")
        ax.set_ylabel("top-1 (%)" if metric == "top1" else "mIoU (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{LOWEST} bpp, {size}² images")
    fig.tight_layout()
    save_figure(fig, path)


def figure_finetuning(results: Results, path: Path) -> None:
    """Fig. 7: how top-1 and mIoU move with compression-only and joint fine-tuning."""
    plt = pyplot()
    quality = quality_rows(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for op in joint_ops(results):
        base_bpp = quality[codec_name(results, op)]["bpp"]
        summary = fine_tuning_summary(results, op)  # means over the seeds that ran
        points = {  # bpp, then (mean, s.e. over the seeds that ran) for top-1 and mIoU
            "baseline": (
                base_bpp,
                mean_and_standard_error(
                    metric_values(results, StageId("cls", op, "cresnet51"), "top1")
                ),
                mean_and_standard_error(
                    metric_values(results, StageId("seg", op, "cresnet51-d"), "miou")
                ),
            ),
            **{
                f"{mode} ft": (
                    summary[mode]["bpp"],
                    (summary[mode]["top1"], summary[mode]["top1_se"]),
                    (summary[mode]["miou"], summary[mode]["miou_se"]),
                )
                for mode in ("compression", "joint")
            },
        }
        for ax, index in ((axes[0], 1), (axes[1], 2)):
            for label, marker in (("baseline", "o"), ("compression ft", "^"), ("joint ft", "*")):
                bpp, *metrics = points[label]
                mean, se = metrics[index - 1]
                ax.errorbar(  # error bars (± s.e. over seeds) only where several seeds ran
                    [bpp],
                    [mean],
                    yerr=None if math.isnan(se) else [se],
                    fmt=marker,
                    ms=10,
                    capsize=3,
                    label=f"{label} ({op})",
                )
    axes[0].set_ylabel("top-1 (%)")
    axes[1].set_ylabel("mIoU (%)")
    for ax in axes:
        ax.set_xlabel("bpp (skimage test photos)")
        ax.grid(alpha=0.3)
    if axes[0].lines:  # a preset without joint training leaves the panels empty
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


@torch.no_grad()
def figure_masks(results: Results, path: Path, count: int = 4) -> None:
    """Fig. 5: masks from decoded RGB (ResNet-50-d) and from latents (cResNet-51-d)."""
    from nodecode.data.latent_cache import LatentCache
    from nodecode.evaluate.figures import plot_mask_examples
    from nodecode.models.checkpoint import load_task_model

    latents = results[StageId("encode", LOWEST)]["latents"]
    decoded = LatentCache(latents, "segmentation", "test", "decoded")
    latent = LatentCache(latents, "segmentation", "test", "latent")
    rgb_model, _ = load_task_model(results[StageId("seg", LOWEST, "resnet50-d", seed=0)]["model"])
    lat_model, _ = load_task_model(results[StageId("seg", LOWEST, "cresnet51-d", seed=0)]["model"])
    items = [decoded[i] for i in range(count)]
    if decoded.decodes_on_the_fly:  # a cache without decoded images: its items are ẑ
        decode = decoded.decoder()
        items = [(decode(x[None])[0], mask) for x, mask in items]
    images, masks = zip(*items, strict=True)
    from_rgb = [rgb_model(x[None])[0].argmax(0) for x in images]
    from_latent = [
        lat_model(latent[i][0][None], output_size=tuple(masks[i].shape))[0].argmax(0)
        for i in range(count)
    ]
    predictions = {"ResNet-50-d (decoded)": from_rgb, "cResNet-51-d (latent)": from_latent}
    plot_mask_examples(list(images), list(masks), predictions, path)


def figure_latents(results: Results, images: str, path: Path) -> None:
    """Fig. 9: a decoded test photo and its 4 highest-entropy channels at 0.330 bpp."""
    from nodecode.codec.zoo import load_codec, paper_codec_only
    from nodecode.data.images import load_images
    from nodecode.evaluate.figures import plot_latent_channels

    codec = load_codec(results[StageId("codec", "0.330")]["codec"])
    codec = paper_codec_only(codec, "Fig. 9").eval()
    name, image = next(iter(load_images(images).items()))
    symbols = codec.encode(image[None])
    x_hat = codec.decode(symbols, (image.shape[-2], image.shape[-1]))[0]
    plot_latent_channels(x_hat, symbols[0], codec.num_centers, path, title=name)
