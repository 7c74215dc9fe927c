"""Claim 4's image quality at equal rate: joint vs compression-only fine-tuning, per seed.

The two arms of a fine-tuning seed end at different rates (in `small-joint` the joint codec
spends 4-12 % less), so their SSIM and MS-SSIM differ partly because of rate. Here both arms
are encoded again under rate control to one file size per image, `--margin` × the cheaper arm's
plain file (`evaluate.rate_distortion.evaluate_at_equal_rate`, what the `reproduce` stages
`rate-distortion-equal-rate-*` measure), and scored on the same images: what is left of the
gap is the fine-tuning's, not the rate's. Reads a run's folder (its codecs' files must be
there, as they are in the folder the run was made in), so it can score other image sets.

.venv/bin/python scripts/joint_at_matched_rate.py runs/rep-small-joint \
    --images skimage:test photos:test
"""

import argparse
import math
import sys
from pathlib import Path

import torch

from nodecode.data.images import load_images
from nodecode.errors import NodecodeError
from nodecode.evaluate.rate_distortion import RDPoint, evaluate_at_equal_rate, evaluate_codec
from nodecode.reproduce import PRESETS, build_plan
from nodecode.reproduce.records import RESULTS, read_results
from nodecode.reproduce.runner import fine_tuned_codec
from nodecode.reproduce.stage_id import FINE_TUNING, StageId
from nodecode.utils.stats import mean_and_standard_error

METRICS = ("bpp", "psnr", "ssim", "ms_ssim")


def fine_tuned_pairs(out: Path, preset: str) -> list[tuple[StageId, dict[str, dict]]]:
    """Each joint stage of the preset's plan whose two arms finished: {arm: its result}."""
    results = read_results(out / RESULTS)
    pairs = []
    for stage in build_plan(PRESETS[preset]):
        if stage.id.step != "joint":
            continue
        arms = {
            m: results.get(StageId(m, stage.id.codec, seed=stage.id.seed).name) for m in FINE_TUNING
        }
        if all(arm and "codec" in arm for arm in arms.values()):
            pairs.append((stage.id, arms))
    return pairs


def means(points: list[RDPoint]) -> dict[str, float]:
    return {k: sum(getattr(p, k) for p in points) / len(points) for k in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a reproduce run's folder (OUT)")
    parser.add_argument("--preset", default="small-joint", choices=sorted(PRESETS))
    parser.add_argument("--images", nargs="+", default=["skimage:test"])
    parser.add_argument(
        "--margin",
        type=float,
        help="the common rate, as a fraction of the cheaper arm's plain file per image "
        "(default: the preset's)",
    )
    args = parser.parse_args()
    margin = PRESETS[args.preset].equal_rate_margin if args.margin is None else args.margin
    torch.set_grad_enabled(False)
    pairs = fine_tuned_pairs(args.out, args.preset)
    for spec in args.images:
        images = load_images(spec)
        print(f"\n{spec} ({len(images)} images): joint vs compression-only, per seed\n")
        print("| rate | seed | arm | bpp | PSNR | SSIM | MS-SSIM |")
        print("|---|---|---|---|---|---|---|")
        gaps: dict[str, dict[str, list[float]]] = {}
        for joint_id, arms in pairs:
            first_seed = PRESETS[args.preset].seeds[0]  # its stages' names carry no seed
            op = joint_id.codec
            seed = first_seed if joint_id.seed is None else joint_id.seed
            codecs = {arm: fine_tuned_codec(result) for arm, result in arms.items()}
            plain = {c.name: evaluate_codec(c, images) for c in codecs.values()}
            equal = evaluate_at_equal_rate(list(codecs.values()), images, margin, plain)
            for arm, codec in codecs.items():
                for label, points in (("plain", plain), ("equal rate", equal)):
                    m = means(points[codec.name])
                    print(
                        f"| {op} | {seed} | {arm}, {label} | {m['bpp']:.4f} | {m['psnr']:.2f} | "
                        f"{m['ssim']:.4f} | {m['ms_ssim']:.4f} |"
                    )
            joint, control = (means(equal[codecs[arm].name]) for arm in FINE_TUNING)
            for k in METRICS:
                gaps.setdefault(op, {}).setdefault(k, []).append(joint[k] - control[k])
        print("\njoint − compression-only at equal rate, mean ± s.e. over seeds:\n")
        for op, by_metric in gaps.items():
            cells = []
            for k, values in by_metric.items():
                mean, se = mean_and_standard_error(values)
                spread = "" if math.isnan(se) else f" ± {se:.4f}"
                cells.append(f"{k} {mean:+.4f}{spread}")
            print(f"- {op} ({len(by_metric['ssim'])} seeds): " + "; ".join(cells))


if __name__ == "__main__":
    try:
        main()
    except NodecodeError as error:  # a missing or damaged results file: say which, no traceback
        sys.exit(f"error: {error}")
