"""The paper's four claims, each judged two-sided against a stated tolerance."""

from __future__ import annotations

import math

from nodecode.reproduce.presets import LOWEST, OPS
from nodecode.reproduce.results import (
    TOLERANCE,
    cost_rows,
    fine_tuning_summary,
    joint_ops,
    mean_std,
    mean_std_text,
    metric_values,
)
from nodecode.reproduce.runner import Results
from nodecode.reproduce.stage_id import StageId

# Verdicts are two-sided: a result far *better* than the paper's is not the paper's result.
HELD, NOT_HELD, DIFFERENT = "held", "NOT held", "different result"
NOT_RUN = "not run"  # the preset has no stage that tests the claim

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
    if not wins:
        return NOT_RUN
    return HELD if all(all(w.values()) for w in wins) else NOT_HELD


def latent_vs_decoded(
    results: Results, step: str, suffix: str, metric: str
) -> tuple[list[str], dict[str, float]]:
    """cResNet-51 on latents against ResNet-50 on decoded images at every rate: a line per
    rate and the mean differences (claims 1 and 3)."""
    lines, diffs = [], {}
    for op in OPS:
        c51 = metric_values(results, StageId(step, op, f"cresnet51{suffix}"), metric)
        r50 = metric_values(results, StageId(step, op, f"resnet50{suffix}"), metric)
        diffs[op] = mean_std(c51)[0] - mean_std(r50)[0]
        lines.append(
            f"{op} bpp: cResNet-51{suffix} {mean_std_text(c51)} vs ResNet-50{suffix} "
            f"{mean_std_text(r50)} ({diffs[op]:+.2f})"
        )
    return lines, diffs


def claims(results: Results, size: int) -> list[dict[str, str]]:
    out = []
    # (1) classification from latents within ~0.5 points of decoded RGB at equal cost.
    lines, diffs = latent_vs_decoded(results, "cls", "", "top1")
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
    lines, diffs = latent_vs_decoded(results, "seg", "-d", "miou")
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
    for op in joint_ops(results):
        summary = fine_tuning_summary(results, op)
        joint, comp = summary["joint"], summary["compression"]
        all_wins.append(
            {
                "top-1": joint["top1"] > comp["top1"],
                "mIoU": joint["miou"] > comp["miou"],
                "SSIM": joint["ssim"] > comp["ssim"],
                "MS-SSIM": joint["ms_ssim"] > comp["ms_ssim"],
            }
        )
        seeds = f"mean of {joint['seeds']} seeds; " if joint["seeds"] > 1 else ""
        lines.append(
            f"{op} bpp: top-1 {joint['top1']:.2f} vs {comp['top1']:.2f}; mIoU "
            f"{joint['miou']:.2f} vs {comp['miou']:.2f}; SSIM {joint['ssim']:.4f} vs "
            f"{comp['ssim']:.4f}; MS-SSIM {joint['ms_ssim']:.4f} vs {comp['ms_ssim']:.4f} "
            f"(joint vs compression-only; {seeds}bpp {joint['bpp']:.3f} vs {comp['bpp']:.3f})"
        )
    if not all_wins:
        lines.append("this preset runs no joint training")
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
