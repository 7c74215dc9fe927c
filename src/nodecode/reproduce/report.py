"""report/REPORT.md: our Table 2 beside the paper's, the four claims, and Figs. 3–9."""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nodecode.cli.tables import format_table
from nodecode.evaluate.plotting import pyplot, save_figure
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.presets import LOWEST, OPS, ReproducePreset
from nodecode.reproduce.runner import Results
from nodecode.utils.io import atomic_write_text

# Table 2 of the paper: (top-5, top-1, mIoU) on ImageNet / VOC.
PAPER_TABLE = {
    ("rgb", "resnet50"): (89.96, 71.06, 65.75),
    ("0.635", "resnet50"): (88.34, 68.26, 62.97),
    ("0.635", "cresnet51"): (87.85, 67.68, 62.86),
    ("0.635", "cresnet39"): (87.47, 67.17, 61.85),
    ("0.330", "resnet50"): (86.25, 65.18, 60.75),
    ("0.330", "cresnet51"): (85.87, 64.78, 61.12),
    ("0.330", "cresnet39"): (85.46, 64.14, 60.78),
    ("0.0983", "resnet50"): (78.52, 55.30, 52.97),
    ("0.0983", "cresnet51"): (78.20, 55.18, 54.62),
    ("0.0983", "cresnet39"): (77.65, 54.31, 53.51),
    ("0.0983", "resnet71"): (79.28, 56.23, 54.55),
    ("0.0983", "cresnet72"): (79.02, 55.82, 55.78),
}
ROWS = [("rgb", "resnet50")] + [key for key in PAPER_TABLE if key[0] != "rgb"]
TOLERANCE = 0.5  # points: the paper's "within ~0.5%" (claim 1)


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean_std_text(values: list[float]) -> str:
    mean, std = _mean_std(values)
    if math.isnan(mean):
        return "—"
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"


def _runs(results: Results, prefix: str) -> list[dict[str, Any]]:
    """Metrics of every seed of one row: stages named prefix-s<seed>."""
    return [r["metrics"] for name, r in results.items() if name.rsplit("-s", 1)[0] == prefix]


def _values(results: Results, prefix: str, metric: str) -> list[float]:
    return [m[metric] for m in _runs(results, prefix) if metric in m]


def table2(results: Results) -> list[dict[str, Any]]:
    rows = []
    for op, model in ROWS:
        cls, seg = f"cls-{op}-{model}", f"seg-{op}-{model}-d"
        paper = PAPER_TABLE[(op, model)]
        input = "original RGB" if op == "rgb" else ("latent" if model[0] == "c" else "decoded")
        rows.append(
            {
                "bpp": "original" if op == "rgb" else op,
                "network": f"{model} ({input})",
                "seeds": len(_values(results, cls, "top1")),
                "top5": mean_std_text(_values(results, cls, "top5")),
                "top1": mean_std_text(_values(results, cls, "top1")),
                "miou": mean_std_text(_values(results, seg, "miou")),
                "paper_top5": paper[0],
                "paper_top1": paper[1],
                "paper_miou": paper[2],
            }
        )
    return rows


TABLE2_COLUMNS = [
    ("bpp", "bpp"),
    ("network", "network (input)"),
    ("seeds", "seeds"),
    ("top5", "top-5"),
    ("top1", "top-1"),
    ("miou", "mIoU"),
    ("paper_top5", "paper top-5"),
    ("paper_top1", "paper top-1"),
    ("paper_miou", "paper mIoU"),
]


@cache
def _macs(model_path: str, size: int) -> int:
    from nodecode.evaluate.cost import count_macs
    from nodecode.train.tasks import load_task_model

    model, meta = load_task_model(model_path)
    side = size // 8 if meta["input"] == "latent" else size
    return count_macs(model, torch.zeros(1, meta["in_channels"], side, side))


@cache
def _decoder_macs(codec_spec: str, size: int) -> int:
    from nodecode.codec.zoo import load_codec, paper_codec_only
    from nodecode.evaluate.cost import count_macs

    codec = paper_codec_only(load_codec(codec_spec), "the report's decoder cost")
    c = codec.config.latent_channels
    return count_macs(codec.g_s, torch.zeros(1, c, size // 8, size // 8))


def _image_size(results: Results) -> int:
    from nodecode.data.latent_cache import LatentCache

    latents = results[f"encode-{OPS[0]}"]["latents"]
    return LatentCache(latents, "classification", "test", "decoded").image_size


def cost_rows(results: Results, op: str, size: int) -> list[dict[str, Any]]:
    """Per network at rate `op`: MACs alone, MACs with the decoder, top-1 and mIoU (Fig. 6)."""
    rows = []
    decoder = _decoder_macs(results[f"codec-{op}"]["codec"], size)
    for model in ("cresnet39", "cresnet51", "cresnet72", "resnet50", "resnet71"):
        name = f"cls-{op}-{model}-s0"
        if name not in results:
            continue
        macs = _macs(results[name]["model"], size)
        on_rgb = not model.startswith("c")
        seg = f"seg-{op}-{model}-d-s0"
        seg_macs = _macs(results[seg]["model"], size) if seg in results else math.nan
        rows.append(
            {
                "network": model,
                "macs": macs,
                "macs_with_decoder": macs + (decoder if on_rgb else 0),
                "seg_macs": seg_macs,
                "seg_macs_with_decoder": seg_macs + (decoder if on_rgb else 0),
                "top1": _mean_std(_values(results, f"cls-{op}-{model}", "top1"))[0],
                "miou": _mean_std(_values(results, f"seg-{op}-{model}-d", "miou"))[0],
            }
        )
    return rows


# Verdicts are two-sided: a result far *better* than the paper's is not the paper's result.
HELD, NOT_HELD, DIFFERENT = "held", "NOT held", "different result"
PAPER_MAC_RATIO = (1.5, 2.0)  # claim 2: "1.5–2× fewer operations"


def verdict_close(diffs: dict[str, float], tolerance: float = TOLERANCE) -> str:
    """Claim 1: latents within ±`tolerance` points of decoded RGB at every rate. Behind by
    more is NOT held; ahead by more is a different result (the paper found 0.1–0.6 behind)."""
    if any(d < -tolerance for d in diffs.values()):
        return NOT_HELD
    return DIFFERENT if any(d > tolerance for d in diffs.values()) else HELD


def verdict_cost(ratios: dict[str, float], equal_accuracy: dict[str, bool]) -> str:
    """Claim 2: equal accuracy at 1.5–2× fewer MACs. Below 1.5× or at lower accuracy: NOT
    held; above 2×: a different result (widths, not the method, set such a ratio)."""
    low, high = PAPER_MAC_RATIO
    if not all(equal_accuracy.values()) or any(r < low for r in ratios.values()):
        return NOT_HELD
    return DIFFERENT if any(r > high for r in ratios.values()) else HELD


def verdict_segmentation(diffs: dict[str, float], lowest: str, tolerance: float = TOLERANCE) -> str:
    """Claim 3: as good (within ±`tolerance`) at moderate rates, better at the lowest. Far
    ahead at moderate rates is a different result."""
    moderate = {op: d for op, d in diffs.items() if op != lowest}
    if diffs.get(lowest, math.nan) <= 0 or any(d < -tolerance for d in moderate.values()):
        return NOT_HELD
    return DIFFERENT if any(d > tolerance for d in moderate.values()) else HELD


def verdict_joint(wins: list[dict[str, bool]]) -> str:
    """Claim 4: joint training wins on every metric at every rate it was run."""
    return HELD if wins and all(all(w.values()) for w in wins) else NOT_HELD


def claims(results: Results, size: int) -> list[dict[str, str]]:
    out = []
    # (1) classification from latents within ~0.5 points of decoded RGB at equal cost.
    lines, diffs = [], {}
    for op in OPS:
        c51 = _values(results, f"cls-{op}-cresnet51", "top1")
        r50 = _values(results, f"cls-{op}-resnet50", "top1")
        diffs[op] = _mean_std(c51)[0] - _mean_std(r50)[0]
        lines.append(
            f"{op} bpp: cResNet-51 {mean_std_text(c51)} vs ResNet-50 "
            f"{mean_std_text(r50)} ({diffs[op]:+.2f})"
        )
    verdict = verdict_close(diffs)
    if verdict == DIFFERENT:
        lines.append(
            "latents are ahead by more than the tolerance, where the paper found them 0.1–0.6 "
            "behind: when the codec's encoder costs far more than the network after it (cost "
            "table below), the latent path inherits a large trained feature extractor"
        )
    out.append(
        _claim(
            1,
            f"Classification from latents is within ±{TOLERANCE} points of decoded RGB "
            "(cResNet-51 vs ResNet-50, top-1)",
            verdict,
            lines,
        )
    )
    # (2) counting the decoder, 1.5-2x fewer operations at equal accuracy.
    lines, ratios, equal = [], {}, {}
    for op in OPS:
        by_network = {r["network"]: r for r in cost_rows(results, op, size)}
        latent_row, rgb_row = by_network["cresnet51"], by_network["resnet50"]
        ratios[op] = rgb_row["macs_with_decoder"] / latent_row["macs"]
        equal[op] = latent_row["top1"] >= rgb_row["top1"] - TOLERANCE
        lines.append(
            f"{op} bpp: decode + ResNet-50 {rgb_row['macs_with_decoder'] / 1e6:.1f} MMACs vs "
            f"cResNet-51 {latent_row['macs'] / 1e6:.1f} MMACs ({ratios[op]:.2f}×) at top-1 "
            f"{rgb_row['top1']:.2f} vs {latent_row['top1']:.2f}"
        )
    verdict = verdict_cost(ratios, equal)
    if verdict == DIFFERENT:
        lines.append(
            "the ratio exceeds the paper's 1.5–2× because the networks here are narrower than "
            "the codec's decoder; at the paper's widths `nodecode flops` gives 1.76× "
            "(classification) and 1.02× (segmentation)"
        )
    out.append(
        _claim(
            2,
            "Counting the decoder, the latent path needs 1.5–2× fewer operations at equal accuracy",
            verdict,
            lines,
        )
    )
    # (3) segmentation as good at moderate rates, better at aggressive rates.
    lines, diffs = [], {}
    for op in OPS:
        c51 = _values(results, f"seg-{op}-cresnet51-d", "miou")
        r50 = _values(results, f"seg-{op}-resnet50-d", "miou")
        diffs[op] = _mean_std(c51)[0] - _mean_std(r50)[0]
        lines.append(
            f"{op} bpp: cResNet-51-d {mean_std_text(c51)} vs ResNet-50-d "
            f"{mean_std_text(r50)} ({diffs[op]:+.2f})"
        )
    out.append(
        _claim(
            3,
            f"Segmentation from latents is as good at moderate rates (within ±{TOLERANCE}) "
            "and better at the lowest rate (mIoU)",
            verdict_segmentation(diffs, LOWEST),
            lines,
        )
    )
    # (4) joint training beats the compression-only control on accuracy, mIoU, SSIM, MS-SSIM.
    lines, all_wins = [], []
    quality = _quality_rows(results)
    for op in _joint_ops(results):
        joint, comp = (
            results[f"eval-joint-{op}"]["metrics"],
            results[f"cls-comp-more-{op}-cresnet51"]["metrics"],
        )
        seg_j = results[f"seg-joint-{op}-cresnet51-d"]["metrics"]["miou"]
        seg_c = results[f"seg-compression-{op}-cresnet51-d"]["metrics"]["miou"]
        qj, qc = quality[f"joint-{op}"], quality[f"compression-{op}"]
        all_wins.append(
            {
                "top-1": joint["top1"] > comp["top1"],
                "mIoU": seg_j > seg_c,
                "SSIM": qj["ssim"] > qc["ssim"],
                "MS-SSIM": qj["ms_ssim"] > qc["ms_ssim"],
            }
        )
        lines.append(
            f"{op} bpp: top-1 {joint['top1']:.2f} vs {comp['top1']:.2f}; mIoU {seg_j:.2f} vs "
            f"{seg_c:.2f}; SSIM {qj['ssim']:.4f} vs {qc['ssim']:.4f}; MS-SSIM "
            f"{qj['ms_ssim']:.4f} vs {qc['ms_ssim']:.4f} (joint vs compression-only; "
            f"bpp {qj['bpp']:.3f} vs {qc['bpp']:.3f})"
        )
    out.append(
        _claim(
            4,
            "Joint training raises accuracy, mIoU, SSIM and MS-SSIM over the "
            "compression-only control",
            verdict_joint(all_wins),
            lines,
        )
    )
    return out


def trivial_floors(results: Results) -> str:
    """What always answering the commonest class / background scores on the same test data."""
    floors: dict[str, float] = {}
    for result in results.values():
        metrics = result.get("metrics", {}) if isinstance(result, dict) else {}
        for key in ("top1_majority", "miou_all_background"):
            if key in metrics:
                floors.setdefault(key, metrics[key])
    if not floors:
        return "(Trivial floors not recorded: results from before they were measured.)"
    parts = []
    if "top1_majority" in floors:
        parts.append(f"always the commonest class: top-1 {floors['top1_majority']:.2f}")
    if "miou_all_background" in floors:
        parts.append(f"background everywhere: mIoU {floors['miou_all_background']:.2f}")
    return "Floors on the same test split — " + "; ".join(parts) + "."


def _claim(number: int, text: str, verdict: str, lines: list[str]) -> dict[str, str]:
    return {"number": str(number), "claim": text, "verdict": verdict, "evidence": "; ".join(lines)}


def _codec_name(results: Results, op: str) -> str:
    from nodecode.codec.zoo import load_codec

    return load_codec(results[f"codec-{op}"]["codec"]).name


def _joint_ops(results: Results) -> list[str]:
    return [name.removeprefix("eval-joint-") for name in results if name.startswith("eval-joint-")]


def _quality_rows(results: Results) -> dict[str, dict[str, float]]:
    return {row["codec"]: row for row in results["rate-distortion"]["rows"]}


def quality_table(results: Results) -> list[dict[str, Any]]:
    """Before/after fine-tuning (App. A.7), with the original codecs' curve at the same bpp."""
    rows = _quality_rows(results)
    finetuned = ("joint-", "compression-")
    base = sorted(
        (r for n, r in rows.items() if not n.startswith(finetuned)), key=lambda r: r["bpp"]
    )
    out = []
    for name, row in rows.items():
        entry = {"codec": name, **{k: row[k] for k in ("bpp", "psnr", "ssim", "ms_ssim")}}
        if name.startswith(finetuned) and len(base) > 1:
            for metric in ("psnr", "ssim", "ms_ssim"):
                entry[f"before_{metric}"] = float(
                    np.interp(row["bpp"], [b["bpp"] for b in base], [b[metric] for b in base])
                )
        out.append(entry)
    return out


QUALITY_COLUMNS = [
    ("codec", "codec"),
    ("bpp", "bpp"),
    ("psnr", "PSNR"),
    ("ssim", "SSIM"),
    ("ms_ssim", "MS-SSIM"),
    ("before_psnr", "original curve PSNR"),
    ("before_ssim", "original curve SSIM"),
    ("before_ms_ssim", "original curve MS-SSIM"),
]


def _log(results: Results, name: str) -> list[dict[str, str]]:
    path = Path(results[name]["model"]).parent / "log.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


def figure_curves(results: Results, path: Path) -> None:
    """Figs. 3–4: test top-1 against epochs for each network at each operating point."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(OPS), figsize=(5 * len(OPS), 3.8), sharey=True)
    models = ("cresnet39", "cresnet51", "cresnet72", "resnet50", "resnet71")
    for ax, op in zip(axes, OPS, strict=True):
        for index, model in enumerate(models):  # one colour per network in every panel
            name = f"cls-{op}-{model}-s0"
            if name in results:
                rows = _log(results, name)
                ax.plot(
                    [int(r["round"]) for r in rows],
                    [float(r["top1"]) for r in rows],
                    "o-" if model.startswith("c") else "s--",
                    color=f"C{index}",
                    label=model,
                )
        rgb = _log(results, "cls-rgb-resnet50-s0")
        ax.plot(
            [int(r["round"]) for r in rgb],
            [float(r["top1"]) for r in rgb],
            ":",
            c="k",
            label="resnet50 (RGB)",
        )
        ax.set_title(f"{op} bpp")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)  # panels hold different networks (cResNet-72 only at 0.0983)
    axes[0].set_ylabel("test top-1 (%)")
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
            marker = "o" if row["network"].startswith("c") else "s"
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
    quality = _quality_rows(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for op in _joint_ops(results):
        base_bpp = quality[_codec_name(results, op)]["bpp"]
        points = {
            "baseline": (
                base_bpp,
                results[f"cls-{op}-cresnet51-s0"]["metrics"]["top1"],
                results[f"seg-{op}-cresnet51-d-s0"]["metrics"]["miou"],
            ),
            "compression ft": (
                quality[f"compression-{op}"]["bpp"],
                results[f"cls-comp-more-{op}-cresnet51"]["metrics"]["top1"],
                results[f"seg-compression-{op}-cresnet51-d"]["metrics"]["miou"],
            ),
            "joint ft": (
                quality[f"joint-{op}"]["bpp"],
                results[f"eval-joint-{op}"]["metrics"]["top1"],
                results[f"seg-joint-{op}-cresnet51-d"]["metrics"]["miou"],
            ),
        }
        for ax, index in ((axes[0], 1), (axes[1], 2)):
            for label, marker in (("baseline", "o"), ("compression ft", "^"), ("joint ft", "*")):
                bpp, *metrics = points[label]
                ax.plot([bpp], [metrics[index - 1]], marker, ms=10, label=f"{label} ({op})")
    axes[0].set_ylabel("top-1 (%)")
    axes[1].set_ylabel("mIoU (%)")
    for ax in axes:
        ax.set_xlabel("bpp (skimage test photos)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


@torch.no_grad()
def figure_masks(results: Results, path: Path, count: int = 4) -> None:
    """Fig. 5: masks from decoded RGB (ResNet-50-d) and from latents (cResNet-51-d)."""
    from nodecode.data.latent_cache import LatentCache
    from nodecode.evaluate.figures import plot_mask_examples
    from nodecode.train.tasks import load_task_model

    latents = results[f"encode-{LOWEST}"]["latents"]
    decoded = LatentCache(latents, "segmentation", "test", "decoded")
    latent = LatentCache(latents, "segmentation", "test", "latent")
    rgb_model, _ = load_task_model(results[f"seg-{LOWEST}-resnet50-d-s0"]["model"])
    lat_model, _ = load_task_model(results[f"seg-{LOWEST}-cresnet51-d-s0"]["model"])
    images, masks = zip(*(decoded[i] for i in range(count)), strict=True)
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

    codec = paper_codec_only(load_codec(results["codec-0.330"]["codec"]), "Fig. 9").eval()
    name, image = next(iter(load_images(images).items()))
    symbols = codec.encode(image[None])
    x_hat = codec.decode(symbols, (image.shape[-2], image.shape[-1]))[0]
    plot_latent_channels(x_hat, symbols[0], codec.num_centers, path, title=name)


def write_report(
    preset: ReproducePreset, stages: list[Stage], results: Results, out: Path, command: str
) -> Path:
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    size = _image_size(results)
    figure_curves(results, report / "fig3-4-accuracy-vs-epochs.png")
    figure_masks(results, report / "fig5-masks.png")
    figure_costs(results, size, report / "fig6-accuracy-vs-macs.png")
    figure_finetuning(results, report / "fig7-finetuning.png")
    shutil.copyfile(results["rate-distortion"]["figure"], report / "fig8-rate-distortion.png")
    figure_latents(results, preset.rd_images, report / "fig9-latents.png")
    seeds = ", ".join(map(str, preset.seeds))
    verdicts = claims(results, size)
    total = sum(r["seconds"] for r in results.values())
    lines = [
        f"# Reproduction report: preset `{preset.name}`",
        "",
        f"Command: `{command}` — {preset.description}. Seeds {seeds} for the rows with "
        f"several; one seed (the first) elsewhere. Task networks at width {preset.width}, "
        f"{preset.epochs} classification epochs ({preset.schedule} schedule), "
        f"{preset.seg_iters} segmentation iterations. Stage compute time: {total / 60:.1f} min.",
        "",
        "## Table 2 (ours beside the paper's)",
        "",
        "Ours: fashion-scenes test split (top-k %, mIoU % over background + 10 classes); "
        "mean ± std over seeds. Paper: ImageNet / PASCAL VOC.",
        "",
        format_table(table2(results), TABLE2_COLUMNS, digits=2, markdown=True),
        "",
        trivial_floors(results),
        "",
        "## The paper's four claims on our data",
        "",
        format_table(
            verdicts,
            [("number", "#"), ("claim", "claim"), ("verdict", "verdict"), ("evidence", "numbers")],
            markdown=True,
        ),
        "",
        "## Compression before and after fine-tuning (App. A.7)",
        "",
        f"On `{preset.rd_images}`, bpp from file bytes. 'Original curve' interpolates the "
        "three original codecs at the fine-tuned codec's bpp (matched bpp).",
        "",
        format_table(quality_table(results), QUALITY_COLUMNS, digits=4, markdown=True),
        "",
        "## Cost at the lowest rate (Fig. 6)",
        "",
        f"MACs per {size}² image of the networks as trained here (width {preset.width}) and of "
        "the codec's decoder at its own width; the ratio depends on those widths. At the "
        "paper's widths and sizes see `nodecode flops` (docs/RESULTS.md §1).",
        "",
        format_table(
            cost_rows(results, LOWEST, size),
            [
                ("network", "network"),
                ("macs", "MACs"),
                ("macs_with_decoder", "MACs + decoder"),
                ("top1", "top-1"),
                ("seg_macs", "seg MACs"),
                ("seg_macs_with_decoder", "seg MACs + decoder"),
                ("miou", "mIoU"),
            ],
            digits=2,
            markdown=True,
        ),
        "",
        "## Figures",
        "",
        "![Figs. 3-4](fig3-4-accuracy-vs-epochs.png)",
        "![Fig. 5](fig5-masks.png)",
        "![Fig. 6](fig6-accuracy-vs-macs.png)",
        "![Fig. 7](fig7-finetuning.png)",
        "![Fig. 8](fig8-rate-distortion.png)",
        "![Fig. 9](fig9-latents.png)",
        "",
        "## Stages",
        "",
        format_table(
            [
                {
                    "stage": s.name,
                    "what": s.describe(),
                    "key": s.key,
                    "seconds": results[s.name]["seconds"],
                }
                for s in stages
            ],
            [("stage", "stage"), ("what", "what"), ("key", "config hash"), ("seconds", "s")],
            digits=1,
            markdown=True,
        ),
        "",
    ]
    path = report / "REPORT.md"
    atomic_write_text(path, "\n".join(lines))
    atomic_write_text(report / "results.json", json.dumps(results, indent=1, default=str) + "\n")
    return path
