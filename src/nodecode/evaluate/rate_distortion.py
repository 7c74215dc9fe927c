"""Rate–distortion evaluation of codecs against JPEG and JPEG 2000 (App. A.2, Fig. 8)."""

from __future__ import annotations

import csv
import json
import logging
import math
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from torch import Tensor
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import compress_image, decode_image, decompress_file, read_symbols
from nodecode.codec.rate_control import target_bpp
from nodecode.codec.refine import RefineConfig
from nodecode.codec.zoo import Codec, paper_codec_only
from nodecode.data.images import save_image
from nodecode.errors import ConfigError, RateUnreachableError
from nodecode.evaluate.baselines import BASELINES
from nodecode.evaluate.metrics import quality
from nodecode.evaluate.plotting import pyplot, save_figure
from nodecode.utils.io import atomic_path, atomic_write_text, json_safe
from nodecode.utils.stats import standard_error

logger = logging.getLogger(__name__)

METRICS = ("psnr", "ssim", "ms_ssim", "color_error")


@dataclass
class RDPoint:
    """One image coded by one method at one setting; bpp is measured from bytes."""

    method: str
    setting: str
    image: str
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    color_error: float
    bpp_estimate: float = math.nan


def method_name(
    codec: Codec, bpp: float | str | None = None, refine: RefineConfig | None = None
) -> str:
    """How results name a codec's encoding: `paper-0.330`, under rate control
    `paper-0.330@0.33`, with refinement `paper-0.330+refine80` (or both)."""
    name = codec.name
    if bpp is not None:
        name += f"@{target_bpp(paper_codec_only(codec, 'rate control'), bpp):g}"
    if refine is not None and refine.steps > 0:
        name += f"+refine{refine.steps}"
    return name


def evaluate_codec(
    codec: Codec,
    images: dict[str, Tensor],
    workdir: Path | None = None,
    correct_color: bool = True,
    bpp: float | str | None = None,
    refine: RefineConfig | None = None,
) -> list[RDPoint]:
    """Compress each image to a real `.ndc` file, decode it back, and measure.

    With `workdir`, the `.ndc` files and decoded PNGs are kept there for inspection; with
    `bpp`, every file is rate-controlled to at most that rate (or "nominal"); with `refine`,
    every latent is refined first.
    """
    method = method_name(codec, bpp, refine)
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(workdir or tmp)
        # Refined encodings take tens of seconds a photo: show where the evaluation is.
        progress = tqdm(images.items(), desc=method, unit="image", leave=False, disable=None)
        for name, x in progress:
            path = folder / f"{name}.ndc"
            try:
                info = compress_image(codec, x, path, correct_color, bpp, refine)
            except ConfigError as error:
                raise type(error)(f"{name}: {error}") from None
            estimate = math.nan  # the table estimate: the paper codec's symbols only
            if isinstance(codec, ConvAutoencoder):
                header, symbols = read_symbols(codec, path)
                x_hat = decode_image(codec, header, symbols)
                estimate = codec.ideal_bits(symbols) / info.header.num_pixels
            else:
                _, x_hat = decompress_file(codec, path)
            if workdir is not None:
                save_image(x_hat, folder / f"{name}.png")
            points.append(
                RDPoint(
                    method,
                    method,
                    name,
                    info.bpp,
                    **quality(x, x_hat),
                    bpp_estimate=estimate,
                )
            )
    return points


def evaluate_at_equal_rate(
    codecs: list[ConvAutoencoder],
    images: dict[str, Tensor],
    margin: float,
    plain: dict[str, list[RDPoint]] | None = None,
) -> dict[str, list[RDPoint]]:
    """Codecs that land at different rates, compared at one: on each image every codec is
    rate-controlled to `margin` × the smallest of their plain files, so each goes through
    the same encoder (rate control's, not the plain one, which would favour whichever codec
    alone used it), and what differs is the codecs, not their rates. By codec name.
    `plain`: the codecs' plain points on `images` where already measured (by codec name)."""
    plain = plain or {codec.name: evaluate_codec(codec, images) for codec in codecs}
    target = {
        name: margin * min(p.bpp for points in plain.values() for p in points if p.image == name)
        for name in images
    }
    return {
        codec.name: [evaluate_codec(codec, {n: x}, bpp=target[n])[0] for n, x in images.items()]
        for codec in codecs
    }


def evaluate_baselines(
    images: dict[str, Tensor], methods: Iterable[str] = tuple(BASELINES)
) -> list[RDPoint]:
    points = []
    for method in methods:
        code, settings = BASELINES[method]
        for name, x in images.items():
            pixels = x.shape[-2] * x.shape[-1]
            for setting in settings:
                coded = code(x, setting)
                bpp = 8.0 * coded.num_bytes / pixels
                points.append(RDPoint(method, str(setting), name, bpp, **quality(x, coded.image)))
    return points


def at_matched_bpp(points: list[RDPoint], method: str, image: str, bpp: float) -> dict[str, float]:
    """A baseline's metrics interpolated to `bpp` on one image; NaN outside its reachable rates."""
    curve = sorted(
        (p for p in points if p.method == method and p.image == image), key=lambda p: p.bpp
    )
    rates = [p.bpp for p in curve]
    if not curve or not rates[0] <= bpp <= rates[-1]:
        return dict.fromkeys(METRICS, math.nan)
    return {m: float(np.interp(bpp, rates, [getattr(p, m) for p in curve])) for m in METRICS}


def summarize(codec_points: list[RDPoint], baseline_points: list[RDPoint]) -> list[dict]:
    """Per codec: mean bpp and metrics, and each baseline's mean metrics at the same bpp."""
    rows = []
    for codec_name in dict.fromkeys(p.method for p in codec_points):
        mine = [p for p in codec_points if p.method == codec_name]
        row = {
            "codec": codec_name,
            "images": len(mine),
            "bpp": _mean(p.bpp for p in mine),
            "bpp_se": standard_error(p.bpp for p in mine),
            "bpp_estimate": _mean(p.bpp_estimate for p in mine),
        }
        row.update({m: _mean(getattr(p, m) for p in mine) for m in METRICS})
        for method in dict.fromkeys(p.method for p in baseline_points):
            matched = [at_matched_bpp(baseline_points, method, p.image, p.bpp) for p in mine]
            row.update({f"{method}_{m}": _mean(d[m] for d in matched) for m in METRICS})
        rows.append(row)
    return rows


def _mean(values: Iterable[float]) -> float:
    """Mean of the finite values; NaN when none is (e.g. a rate JPEG cannot reach)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def write_points(points: list[RDPoint], path: Path) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(points[0])))
        writer.writeheader()
        writer.writerows(asdict(p) for p in points)


def write_summary(rows: list[dict], path: Path) -> None:
    atomic_write_text(path, json.dumps(json_safe(rows), indent=2) + "\n")


def curves(points: list[RDPoint]) -> dict[str, list[dict[str, float]]]:
    """Mean bpp and metrics per (method, setting), sorted by bpp: one RD curve per method.

    Codecs of one family (`paper-0.330`, `paper-0.635`…) join into one curve.
    """
    groups: dict[tuple[str, str], list[RDPoint]] = {}
    for p in points:
        groups.setdefault((_family(p.method), p.setting), []).append(p)
    result: dict[str, list[dict[str, float]]] = {}
    for (family, _), group in groups.items():
        row = {m: _mean(getattr(p, m) for p in group) for m in ("bpp", *METRICS)}
        result.setdefault(family, []).append(row)
    return {k: sorted(v, key=lambda r: r["bpp"]) for k, v in result.items()}


def _family(method: str) -> str:
    """The curve a method's points join: `paper` for `paper-0.330`, `paper-rate-controlled`
    for `paper-0.330@0.33`, `paper-refined` for `paper-0.330+refine80`, the baseline's own
    name for a baseline."""
    if method in BASELINES:
        return method
    method, _, refined = method.partition("+")
    codec, _, target = method.partition("@")
    family = codec.rsplit("-", 1)[0]
    family += "-refined" if refined else ""
    return f"{family}-rate-controlled" if target else family


def write_compressai_results(points: list[RDPoint], folder: Path, dataset: str) -> list[Path]:
    """One results JSON per method in CompressAI's layout, for `python -m compressai.utils.plot`."""
    paths = []
    for family, rows in curves(points).items():
        results = {"bpp": [r["bpp"] for r in rows]}
        for metric, key in (("psnr", "psnr-rgb"), ("ms_ssim", "ms-ssim-rgb"), ("ssim", "ssim-rgb")):
            results[key] = [r[metric] for r in rows]
        data = {
            "name": family if family not in BASELINES else family.upper(),
            "description": f"{family} on {dataset}; bpp from file bytes, averaged per setting",
            "results": results,
        }
        path = folder / f"{family}.json"
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
        paths.append(path)
    return paths


def plot_rate_distortion(points: list[RDPoint], path: Path) -> None:
    """MS-SSIM, SSIM and PSNR against bpp, averaged per setting, like the paper's Fig. 8."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    methods = list(dict.fromkeys(p.method for p in points))
    codecs = [m for m in methods if m not in BASELINES]
    for ax, metric in zip(axes, ("ms_ssim", "ssim", "psnr"), strict=True):
        for method in methods:
            by_setting: dict[str, list[RDPoint]] = {}
            for p in points:
                if p.method == method:
                    by_setting.setdefault(p.setting, []).append(p)
            xs = [_mean(p.bpp for p in group) for group in by_setting.values()]
            ys = [_mean(getattr(p, metric) for p in group) for group in by_setting.values()]
            order = np.argsort(xs)
            if method in codecs:
                ax.plot(np.array(xs)[order], np.array(ys)[order], "o", ms=9, label=method)
            else:
                ax.plot(np.array(xs)[order], np.array(ys)[order], ".-", label=method.upper())
        ax.set_xlabel("bpp (measured from file bytes)")
        ax.set_title(metric.upper().replace("_", "-"))
        ax.grid(alpha=0.3)
        ax.set_xlim(0, 1.6)
    axes[0].legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def compare_codecs(
    codecs: list[Codec],
    images: dict[str, Tensor],
    baselines: Iterable[str],
    out: Path,
    keep_files: bool = False,
    dataset: str = "images",
    correct_color: bool = True,
    rates: Iterable[float | str] = (),
    refine: RefineConfig | None = None,
    skip_unreachable: bool = False,
    measured: Iterable[RDPoint] = (),
) -> list[dict]:
    """Codecs against baselines on `images`: writes rd_points.csv, rd_summary.json, rd.png
    and compressai/<method>.json to `out` (and each codec's `.ndc` and decoded PNGs under
    out/<codec> with `keep_files`). Each codec runs at its own rate and then rate-controlled
    to each of `rates` (bpp, or "nominal"); `refine` refines every latent first. With
    `skip_unreachable`, a rate that some image cannot be brought to leaves that row out
    (logged) rather than stopping the comparison. `measured`: points of codecs measured
    earlier on the same images (`evaluate_codec`), summarised beside the others."""
    points, rates = [], tuple(rates)
    for codec in codecs:
        # Rate control picks among the paper codecs' centers; other codecs run at their rate.
        codec_rates = rates if isinstance(codec, ConvAutoencoder) else ()
        if rates and not codec_rates:
            logger.warning("%s: no rate control (not a paper codec); its own rate only", codec.name)
        for bpp in (None, *codec_rates):
            workdir = out / method_name(codec, bpp, refine) if keep_files else None
            try:
                points += evaluate_codec(codec, images, workdir, correct_color, bpp, refine)
            except RateUnreachableError as error:
                if not skip_unreachable:
                    raise
                logger.warning("%s left out: %s", method_name(codec, bpp, refine), error)
    points += measured
    baseline_points = evaluate_baselines(images, baselines)
    rows = summarize(points, baseline_points)
    out.mkdir(parents=True, exist_ok=True)
    write_points(points + baseline_points, out / "rd_points.csv")
    write_summary(rows, out / "rd_summary.json")
    write_compressai_results(points + baseline_points, out / "compressai", str(dataset))
    plot_rate_distortion(points + baseline_points, out / "rd.png")
    return rows


def write_crop_comparison(
    codecs: list[Codec],
    name: str,
    x: Tensor,
    baselines: Iterable[str],
    path: Path,
    correct_color: bool = True,
    refine: RefineConfig | None = None,
) -> None:
    """Each codec beside the baselines at the rate the codec spent on image `name`."""
    from nodecode.codec.files import compress_image, decompress_file
    from nodecode.evaluate.baselines import at_rate
    from nodecode.evaluate.figures import plot_crop_comparison

    rows = []
    pixels = x.shape[-2] * x.shape[-1]
    with tempfile.TemporaryDirectory() as tmp:
        for codec in codecs:
            file = Path(tmp) / f"{codec.name}.ndc"
            info = compress_image(codec, x, file, correct_color, refine=refine)
            _, x_hat = decompress_file(codec, file)
            psnr = quality(x, x_hat)["psnr"]
            title = f"{method_name(codec, refine=refine)}\n{info.bpp:.3f} bpp, {psnr:.1f} dB"
            row = [(title, x_hat)]
            for method in baselines:
                coded = at_rate(method, x, info.bpp)
                bpp = 8.0 * coded.num_bytes / pixels
                title = f"{method.upper()}\n{bpp:.3f} bpp, {quality(x, coded.image)['psnr']:.1f} dB"
                row.append((title, coded.image))
            rows.append(row)
    plot_crop_comparison(x, rows, path)
