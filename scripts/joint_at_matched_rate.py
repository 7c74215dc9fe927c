"""Claim 4's image quality at equal rate: joint vs compression-only fine-tuning, per seed.

The two arms of a fine-tuning seed end at different rates (in `small-joint` the joint codec
spends 4-10 % less), so their SSIM and MS-SSIM differ partly because of rate. Here both arms
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
from pathlib import Path

import torch

from nodecode.codec.zoo import load_codec
from nodecode.data.images import load_images
from nodecode.evaluate.rate_distortion import RDPoint, evaluate_at_equal_rate, evaluate_codec
from nodecode.reproduce import PRESETS
from nodecode.reproduce.records import RESULTS, read_results
from nodecode.utils.stats import mean_and_standard_error

METRICS = ("bpp", "psnr", "ssim", "ms_ssim")
ARMS = ("joint", "compression")


def fine_tuned_pairs(out: Path) -> list[tuple[str, str, dict[str, Path]]]:
    """(op, seed, {arm: codec file}) for every seed with both arms' codecs done."""
    results = read_results(out / RESULTS)
    pairs = []
    for name, result in results.items():
        if not name.startswith("joint-") or "codec" not in result:
            continue
        rest = name.removeprefix("joint-")
        control = results.get(f"compression-{rest}", {})
        if "codec" in control:
            op, _, seed = rest.partition("-s")
            pairs.append(
                (op, seed or "0", {"joint": result["codec"], "compression": control["codec"]})
            )
    return sorted(pairs)


def codec_of(path: str):
    codec = load_codec(path).eval()
    codec.name = Path(path).parent.name  # its stage's, as the reproduction names it
    return codec


def means(points: list[RDPoint]) -> dict[str, float]:
    return {k: sum(getattr(p, k) for p in points) / len(points) for k in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a reproduce run's folder (OUT)")
    parser.add_argument("--images", nargs="+", default=["skimage:test"])
    parser.add_argument(
        "--margin",
        type=float,
        default=PRESETS["small-joint"].equal_rate_margin,
        help="the common rate, as a fraction of the cheaper arm's plain file per image",
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    pairs = fine_tuned_pairs(args.out)
    for spec in args.images:
        images = load_images(spec)
        print(f"\n{spec} ({len(images)} images): joint vs compression-only, per seed\n")
        print("| rate | seed | arm | bpp | PSNR | SSIM | MS-SSIM |")
        print("|---|---|---|---|---|---|---|")
        gaps: dict[str, dict[str, list[float]]] = {}
        for op, seed, paths in pairs:
            codecs = {arm: codec_of(paths[arm]) for arm in ARMS}
            plain = {arm: evaluate_codec(codec, images) for arm, codec in codecs.items()}
            equal = evaluate_at_equal_rate(list(codecs.values()), images, args.margin)
            for arm, codec in codecs.items():
                for label, points in (("plain", plain[arm]), ("equal rate", equal[codec.name])):
                    m = means(points)
                    print(
                        f"| {op} | {seed} | {arm}, {label} | {m['bpp']:.4f} | {m['psnr']:.2f} | "
                        f"{m['ssim']:.4f} | {m['ms_ssim']:.4f} |"
                    )
            joint, control = (means(equal[codecs[arm].name]) for arm in ARMS)
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
    main()
