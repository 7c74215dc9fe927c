"""What a reproduction's results say: Table 2 rows, cost rows, codec quality rows,
and the helpers that read stage results (mean ± std over seeds)."""

from __future__ import annotations

import csv
import dataclasses
import math
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nodecode.models import reads_latents
from nodecode.models.resnet import LATENT_STRIDE
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.presets import OPS
from nodecode.reproduce.records import Results
from nodecode.reproduce.stage_id import EQUAL_RATE, FINE_TUNING, StageId
from nodecode.utils.stats import mean_and_standard_error

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


def mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean_std_text(values: list[float]) -> str:
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "—"
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"


def stage_runs(results: Results, row: StageId) -> list[dict[str, Any]]:
    """Metrics of every seed of one row (`StageId.row`)."""
    return [r["metrics"] for id, r in results.items() if id.row == row]


def metric_values(results: Results, row: StageId, metric: str) -> list[float]:
    return [m[metric] for m in stage_runs(results, row) if metric in m]


def table2(results: Results) -> list[dict[str, Any]]:
    rows = []
    for op, model in ROWS:
        cls, seg = StageId("cls", op, model), StageId("seg", op, f"{model}-d")
        paper = PAPER_TABLE[(op, model)]
        input = "original RGB" if op == "rgb" else ("latent" if model[0] == "c" else "decoded")
        rows.append(
            {
                "bpp": "original" if op == "rgb" else op,
                "network": f"{model} ({input})",
                "seeds": len(metric_values(results, cls, "top1")),
                "top5": mean_std_text(metric_values(results, cls, "top5")),
                "top1": mean_std_text(metric_values(results, cls, "top1")),
                "miou": mean_std_text(metric_values(results, seg, "miou")),
                "val_top1": mean_std_text(metric_values(results, cls, "val_top1")),
                "val_miou": mean_std_text(metric_values(results, seg, "val_miou")),
                "paper_top5": paper[0],
                "paper_top1": paper[1],
                "paper_miou": paper[2],
            }
        )
    return rows


def with_networks(results: Results, stages: list[Stage]) -> Results:
    """The results with each task stage's network described (`estimate.network_of`), so the
    report counts MACs from the plan, not from weights that may be on another machine."""
    from nodecode.reproduce.estimate import network_of

    tasks = {s.id: s for s in stages if s.kind in ("classifier", "segmenter")}
    return {
        id: result | {"network": network_of(tasks[id])} if id in tasks else result
        for id, result in results.items()
    }


def _macs(network: dict[str, Any], size: int) -> int:
    from nodecode.reproduce.estimate import network_macs

    side = size // LATENT_STRIDE if network["on_latents"] else size
    return network_macs(
        network["model"], network["width"], network["in_channels"], side, network["num_classes"]
    )


@cache
def _decoder_macs(codec_spec: str, size: int) -> int:
    from nodecode.codec.zoo import load_codec, paper_codec_only
    from nodecode.evaluate.cost import count_macs

    codec = paper_codec_only(load_codec(codec_spec), "the report's decoder cost")
    c = codec.config.latent_channels
    return count_macs(codec.g_s, torch.zeros(1, c, size // 8, size // 8))


def image_size(results: Results) -> int:
    from nodecode.data.latent_cache import LatentCache

    latents = results[StageId("encode", OPS[0])]["latents"]
    return LatentCache(latents, "classification", "test", "decoded").image_size


def cost_rows(results: Results, op: str, size: int) -> list[dict[str, Any]]:
    """Per network at rate `op`: MACs alone, MACs with the decoder, top-1 and mIoU (Fig. 6)."""
    rows = []
    decoder = _decoder_macs(results[StageId("codec", op)]["codec"], size)
    for model in ("cresnet39", "cresnet51", "cresnet72", "resnet50", "resnet71"):
        cls, seg = StageId("cls", op, model), StageId("seg", op, f"{model}-d")
        first, first_seg = (dataclasses.replace(id, seed=0) for id in (cls, seg))
        if first not in results:
            continue
        macs = _macs(results[first]["network"], size)
        on_rgb = not reads_latents(model)
        seg_macs = _macs(results[first_seg]["network"], size) if first_seg in results else math.nan
        rows.append(
            {
                "network": model,
                "macs": macs,
                "macs_with_decoder": macs + (decoder if on_rgb else 0),
                "seg_macs": seg_macs,
                "seg_macs_with_decoder": seg_macs + (decoder if on_rgb else 0),
                "top1": mean_std(metric_values(results, cls, "top1"))[0],
                "miou": mean_std(metric_values(results, seg, "miou"))[0],
            }
        )
    return rows


def codec_name(results: Results, op: str) -> str:
    from nodecode.codec.zoo import load_codec

    return load_codec(results[StageId("codec", op)]["codec"]).name


def joint_ops(results: Results) -> list[str]:
    """The operating points joint training ran at (once each, over its seeds)."""
    ops = [id.codec for id in results if id.step == "eval" and id.variant == "joint" and id.codec]
    return list(dict.fromkeys(ops))


QUALITY = ("bpp", "ssim", "ms_ssim")
# The same, with both fine-tuning arms rate-controlled to one file size per image.
EQUAL_RATE_QUALITY = tuple(f"{k}_equal_rate" for k in QUALITY)


def fine_tuning_summary(results: Results, op: str) -> dict[str, dict[str, float]]:
    """Claim 4's numbers at one rate for "joint" and "compression" fine-tuning, means over
    the seeds whose two arms both finished: the classifier's top-1, the segmenter's mIoU,
    and the fine-tuned codecs' bpp, SSIM and MS-SSIM, plain and with both arms at one rate
    (`KEY_equal_rate`, NaN where a seed lacks that stage); each with its standard error over
    the seeds (`KEY_se`), so that claim 4 can tell a win from seed noise."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in FINE_TUNING}
    for seed in [id.seed for id in results if id.step == "joint" and id.codec == op]:
        arms = {mode: _fine_tuned(results, op, mode, seed) for mode in FINE_TUNING}
        done = {mode: arm for mode, arm in arms.items() if arm is not None}
        if len(done) == len(arms):  # a seed counts once both arms are done
            for mode, arm in done.items():
                runs[mode].append(arm)
    summary = {}
    for mode, seeds in runs.items():
        entry: dict[str, float] = {"seeds": len(seeds)}
        for k in ("top1", "miou", *QUALITY, *EQUAL_RATE_QUALITY):
            values = [arm.get(k, math.nan) for arm in seeds]  # NaN: not measured at one rate
            entry[k], entry[f"{k}_se"] = mean_and_standard_error(values)
        summary[mode] = entry
    return summary


def _fine_tuned(results: Results, op: str, mode: str, seed: int | None) -> dict[str, float] | None:
    """One seed's fine-tuning in one mode: its classifier's top-1, its segmenter's mIoU and
    its codec's quality; None until all three are done."""
    classifier = (
        StageId("eval", op, variant="joint", seed=seed)
        if mode == "joint"
        else StageId("cls", op, "cresnet51", variant="comp-more", seed=seed)
    )
    segmenter = StageId("seg", op, "cresnet51-d", variant=mode, seed=seed)
    quality = codec_quality(results, StageId(mode, op, seed=seed))
    if classifier not in results or segmenter not in results or quality is None:
        return None
    top1, miou = results[classifier]["metrics"]["top1"], results[segmenter]["metrics"]["miou"]
    equal = results.get(StageId("rate-distortion", op, variant=EQUAL_RATE, seed=seed))
    if equal is not None:  # both arms rate-controlled to one size per image
        points = equal["equal_rate"][mode]
        for k, key in zip(QUALITY, EQUAL_RATE_QUALITY, strict=True):
            quality[key] = statistics.fmean(p[k] for p in points)
    return {"top1": top1, "miou": miou, **quality}


def codec_quality(results: Results, finetuned: StageId) -> dict[str, float] | None:
    """A fine-tuned codec's mean bpp, SSIM and MS-SSIM on the rate-distortion images: from
    its own stage's points, or (runs from before such stages) from its row of the final
    comparison, where it is named after its stage."""
    own = dataclasses.replace(finetuned, step="rate-distortion", variant=finetuned.step)
    if own in results:
        points = results[own]["points"]
        return {k: statistics.fmean(p[k] for p in points) for k in QUALITY}
    final = results.get(StageId("rate-distortion"), {}).get("rows", [])
    return next(({k: r[k] for k in QUALITY} for r in final if r["codec"] == finetuned.name), None)


def quality_rows(results: Results) -> dict[str, dict[str, float]]:
    return {row["codec"]: row for row in results[StageId("rate-distortion")]["rows"]}


def quality_table(results: Results) -> list[dict[str, Any]]:
    """Before/after fine-tuning (App. A.7), with the original codecs' curve at the same bpp."""
    rows = quality_rows(results)
    # Fine-tuned codecs are named after their stages (runner._rate_distortion).
    finetuned = {id.name for id in results if id.step in FINE_TUNING}
    base = sorted((r for n, r in rows.items() if n not in finetuned), key=lambda r: r["bpp"])
    out = []
    for name, row in rows.items():
        entry = {"codec": name, **{k: row[k] for k in ("bpp", "psnr", "ssim", "ms_ssim")}}
        if name in finetuned and len(base) > 1:
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


def stage_log(results: Results, id: StageId) -> list[dict[str, str]]:
    path = Path(results[id]["model"]).parent / "log.csv"
    with path.open() as f:
        return list(csv.DictReader(f))
