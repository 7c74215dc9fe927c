"""The paper's four claims, each judged two-sided against a stated tolerance."""

from __future__ import annotations

import math

from nodecode.reproduce.presets import LOWEST, OPS
from nodecode.reproduce.records import Results
from nodecode.reproduce.results import (
    TOLERANCE,
    cost_rows,
    fine_tuning_summary,
    joint_ops,
    mean_std,
    mean_std_text,
    metric_values,
)
from nodecode.reproduce.stage_id import StageId
from nodecode.utils.stats import standard_error

# Verdicts are two-sided: a result far *better* than the paper's is not the paper's result.
HELD, NOT_HELD, DIFFERENT = "held", "NOT held", "different result"
NOT_RUN = "not run"  # the preset has no stage that tests the claim
UNRESOLVED = "unresolved (within seed noise)"

# Claims compare means over seeds: a difference counts as beyond a bound (a tolerance, or zero
# for "better") only when it clears it by this many standard errors of the difference (about
# a 95 % two-sided test for 3 + 3 seeds would need 2.8; 2 is the usual rough rule, stated in
# the report). With one seed the noise is unknown and the point estimate decides.
NOISE_SE = 2.0
WIN, LOSS, TIE = "win", "loss", "within noise"

PAPER_MAC_RATIO = (1.5, 2.0)  # claim 2: "1.5–2× fewer operations"
IMAGE = (("SSIM", "ssim"), ("MS-SSIM", "ms_ssim"))  # claim 4's image-quality metrics


def clears(excess: float, se: float) -> bool:
    """Whether a difference's excess over a bound stands out of the seeds' noise (by the
    point estimate alone where the noise is unknown: one seed)."""
    return excess > (NOISE_SE * se if _noise_known(se) else 0.0)


def _noise_known(se: float) -> bool:
    return math.isfinite(se) and se > 0


def verdict_close(
    diffs: dict[str, float], se: dict[str, float] | None = None, tolerance: float = TOLERANCE
) -> str:
    """Claim 1: latents within ±`tolerance` points of decoded RGB at every rate. Behind by
    more is NOT held; ahead by more is a different result (the paper found 0.1–0.6 behind);
    outside the tolerance but not beyond the seeds' noise (`se`, per rate) is unresolved."""
    se = se or {}
    if any(clears(-d - tolerance, se.get(op, 0.0)) for op, d in diffs.items()):
        return NOT_HELD
    if any(clears(d - tolerance, se.get(op, 0.0)) for op, d in diffs.items()):
        return DIFFERENT
    return UNRESOLVED if any(abs(d) > tolerance for d in diffs.values()) else HELD


def verdict_cost(ratios: dict[str, float], equal_accuracy: dict[str, bool]) -> str:
    """Claim 2: equal accuracy at 1.5–2× fewer MACs. Below 1.5× or at lower accuracy: NOT
    held; above 2×: a different result (widths, not the method, set such a ratio)."""
    low, high = PAPER_MAC_RATIO
    if not all(equal_accuracy.values()) or any(r < low for r in ratios.values()):
        return NOT_HELD
    return DIFFERENT if any(r > high for r in ratios.values()) else HELD


def verdict_segmentation(
    diffs: dict[str, float],
    lowest: str,
    se: dict[str, float] | None = None,
    tolerance: float = TOLERANCE,
) -> str:
    """Claim 3: as good (within ±`tolerance`) at moderate rates, better at the lowest. Far
    ahead at moderate rates is a different result; what the seeds' noise (`se`) leaves open
    is unresolved."""
    se = se or {}
    moderate = {op: d for op, d in diffs.items() if op != lowest}
    low, low_se = diffs.get(lowest, math.nan), se.get(lowest, 0.0)
    better = clears(low, low_se)
    if not better and (clears(-low, low_se) or not _noise_known(low_se)):
        return NOT_HELD  # behind, or (one seed) not ahead, at the lowest rate
    if any(clears(-d - tolerance, se.get(op, 0.0)) for op, d in moderate.items()):
        return NOT_HELD
    if any(clears(d - tolerance, se.get(op, 0.0)) for op, d in moderate.items()):
        return DIFFERENT
    unclear = not better or any(abs(d) > tolerance for d in moderate.values())
    return UNRESOLVED if unclear else HELD


def joint_outcome(joint: float, joint_se: float, control: float, control_se: float) -> str:
    """A win, a loss or a tie for joint training on one metric: beyond `NOISE_SE` standard
    errors of the difference when the seeds give one, else by the sign alone (one seed)."""
    spread = math.hypot(joint_se, control_se)
    if clears(joint - control, spread):
        return WIN
    return LOSS if clears(control - joint, spread) else TIE


def verdict_joint(outcomes: list[dict[str, str]]) -> str:
    """Claim 4: joint training wins on every metric at every rate it was run. A loss anywhere
    is NOT held; ties (differences within the seeds' noise) leave it unresolved."""
    if not outcomes:
        return NOT_RUN
    found = {o for per_rate in outcomes for o in per_rate.values()}
    if LOSS in found:
        return NOT_HELD
    return UNRESOLVED if TIE in found else HELD


def latent_vs_decoded(
    results: Results, step: str, suffix: str, metric: str
) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """cResNet-51 on latents against ResNet-50 on decoded images at every rate: a line per
    rate, the mean differences and their standard errors over the seeds (claims 1 and 3)."""
    lines, diffs, ses = [], {}, {}
    for op in OPS:
        c51 = metric_values(results, StageId(step, op, f"cresnet51{suffix}"), metric)
        r50 = metric_values(results, StageId(step, op, f"resnet50{suffix}"), metric)
        diffs[op] = mean_std(c51)[0] - mean_std(r50)[0]
        ses[op] = math.hypot(standard_error(c51), standard_error(r50))
        spread = f" ± {ses[op]:.2f} s.e." if math.isfinite(ses[op]) else ""
        lines.append(
            f"{op} bpp: cResNet-51{suffix} {mean_std_text(c51)} vs ResNet-50{suffix} "
            f"{mean_std_text(r50)} ({diffs[op]:+.2f}{spread})"
        )
    return lines, diffs, ses


def claims(results: Results, size: int) -> list[dict[str, str]]:
    out = []
    # (1) classification from latents within ~0.5 points of decoded RGB at equal cost.
    lines, diffs, ses = latent_vs_decoded(results, "cls", "", "top1")
    verdict = verdict_close(diffs, ses)
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
    lines, diffs, ses = latent_vs_decoded(results, "seg", "-d", "miou")
    out.append(
        _claim(
            3,
            f"Segmentation from latents is as good at moderate rates (within ±{TOLERANCE}) "
            "and better at the lowest rate (mIoU)",
            verdict_segmentation(diffs, LOWEST, ses),
            lines,
        )
    )
    out.append(joint_training_claim(results))
    return out


def joint_training_claim(results: Results) -> dict[str, str]:
    """Claim 4: joint training beats the compression-only control on top-1, mIoU, SSIM and
    MS-SSIM at every rate it ran. The arms land at different rates, so image quality is
    judged with both rate-controlled to one file size per image where that was measured."""
    lines, all_outcomes = [], []
    for op in joint_ops(results):
        summary = fine_tuning_summary(results, op)
        joint, comp = summary["joint"], summary["compression"]
        if not joint["seeds"]:  # a run still under way: no seed has both arms done here
            continue
        at_one_rate = all(math.isfinite(arm["ssim_equal_rate"]) for arm in (joint, comp))
        metrics = {"top-1": "top1", "mIoU": "miou"}
        for label, k in IMAGE:
            if at_one_rate:
                label, k = f"{label} at equal rate", f"{k}_equal_rate"
            metrics[label] = k
        outcomes = {
            label: joint_outcome(joint[k], joint[f"{k}_se"], comp[k], comp[f"{k}_se"])
            for label, k in metrics.items()
        }
        all_outcomes.append(outcomes)
        cells = "; ".join(
            f"{label} {_with_se(joint, k)} vs {_with_se(comp, k)} ({outcomes[label]})"
            for label, k in metrics.items()
        )
        seeds = (
            f"means ± s.e. over {joint['seeds']} seeds, a win or loss beyond {NOISE_SE:g} s.e. "
            "of the difference"
            if joint["seeds"] > 1
            else "one seed: its noise unknown, judged by the sign alone"
        )
        rates = f"bpp {joint['bpp']:.3f} vs {comp['bpp']:.3f}"
        if at_one_rate:
            plain = "; ".join(f"{m} {joint[k]:.4f} vs {comp[k]:.4f}" for m, k in IMAGE)
            rates += (
                f", where {plain}; at equal rate both {joint['bpp_equal_rate']:.3f}, each "
                "image rate-controlled to one file size"
            )
        lines.append(f"{op} bpp: {cells} (joint vs compression-only; {seeds}; {rates})")
    if not all_outcomes:
        started = bool(joint_ops(results))
        lines.append(
            "no seed has finished both arms yet"
            if started
            else "this preset runs no joint training"
        )
    return _claim(
        4,
        "Joint training raises accuracy, mIoU, SSIM and MS-SSIM over the compression-only control",
        verdict_joint(all_outcomes),
        lines,
    )


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


def _with_se(summary: dict[str, float], key: str) -> str:
    """A mean over seeds with its standard error, digits to suit the metric."""
    digits = 4 if key.startswith(("ssim", "ms_ssim")) else 2
    se = summary[f"{key}_se"]
    text = f"{summary[key]:.{digits}f}"
    return text if math.isnan(se) else f"{text} ± {se:.{digits}f}"


def _claim(number: int, text: str, verdict: str, lines: list[str]) -> dict[str, str]:
    return {"number": str(number), "claim": text, "verdict": verdict, "evidence": "; ".join(lines)}
