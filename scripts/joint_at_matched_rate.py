"""Claim 4's image quality at equal rate: joint vs compression-only fine-tuning, per image.

The two arms of a fine-tuning seed end at different rates (in `small-joint` the joint codec
spends 4-10 % less), so their SSIM and MS-SSIM differ partly because of rate. Here both arms
are encoded again under rate control (`codec/rate_control.py`) to one file size per image,
`MARGIN` below the cheaper arm's plain file, so that both go through the same encoder (rate
control's λ > 0 encoding is not the plain one, and only one arm under it would favour that
arm), and are scored on the same images: what is left of the gap is the fine-tuning's, not the
rate's. Reads a run's folder (its codecs' files must be
there, as they are in the folder the run was made in).

.venv/bin/python scripts/joint_at_matched_rate.py runs/rep-small-joint \
    --images skimage:test photos:test
"""

import argparse
import math
from pathlib import Path

import torch

from nodecode.codec.zoo import load_codec
from nodecode.data.images import load_images
from nodecode.evaluate.rate_distortion import RDPoint, evaluate_codec
from nodecode.reproduce.records import RESULTS, read_results
from nodecode.utils.stats import mean_and_standard_error

METRICS = ("bpp", "psnr", "ssim", "ms_ssim")
MARGIN = 0.97  # the common target, as a fraction of the cheaper arm's plain rate per image


def fine_tuned_pairs(out: Path) -> list[tuple[str, str, Path, Path]]:
    """(op, seed tag, joint codec, compression-only codec) for every seed with both arms done."""
    results = read_results(out / RESULTS)
    pairs = []
    for name, result in results.items():
        if not name.startswith("joint-") or "codec" not in result:
            continue
        control = results.get("compression-" + name.removeprefix("joint-"), {})
        if "codec" not in control:
            continue
        op, _, seed = name.removeprefix("joint-").partition("-s")
        pairs.append((op, seed or "0", Path(result["codec"]), Path(control["codec"])))
    return sorted(pairs)


def score(path: Path, images: dict[str, torch.Tensor], bpp: dict[str, float] | None = None):
    """A fine-tuned codec's points per image: plain, or each image rate-controlled to `bpp`."""
    codec = load_codec(path).eval()
    codec.name = path.parent.name
    if bpp is None:
        return {p.image: p for p in evaluate_codec(codec, images)}
    return {name: evaluate_codec(codec, {name: x}, bpp=bpp[name])[0] for name, x in images.items()}


def means(points: dict[str, RDPoint]) -> dict[str, float]:
    return {k: sum(getattr(p, k) for p in points.values()) / len(points) for k in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a reproduce run's folder (OUT)")
    parser.add_argument("--images", nargs="+", default=["skimage:test"])
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    pairs = fine_tuned_pairs(args.out)
    for spec in args.images:
        images = load_images(spec)
        print(f"\n{spec} ({len(images)} images): joint vs compression-only, per seed\n")
        print("| rate | seed | arm | bpp | PSNR | SSIM | MS-SSIM |")
        print("|---|---|---|---|---|---|---|")
        gaps: dict[str, dict[str, list[float]]] = {}
        for op, seed, joint_path, control_path in pairs:
            plain = {
                "joint": score(joint_path, images),
                "compression-only": score(control_path, images),
            }
            target = {n: MARGIN * min(arm[n].bpp for arm in plain.values()) for n in images}
            matched = {
                "joint": score(joint_path, images, target),
                "compression-only": score(control_path, images, target),
            }
            for label, rows in (("plain", plain), (f"at {MARGIN:g} × the cheaper", matched)):
                for arm, points in rows.items():
                    m = means(points)
                    print(
                        f"| {op} | {seed} | {arm}, {label} | {m['bpp']:.4f} | {m['psnr']:.2f} | "
                        f"{m['ssim']:.4f} | {m['ms_ssim']:.4f} |"
                    )
            joint, control = means(matched["joint"]), means(matched["compression-only"])
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
