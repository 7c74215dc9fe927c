"""Choose the latent-refinement settings (codec/refine.py) on the validation photos.

Each setting encodes every photo of --images (photos:val: never the test photos) at the
codec's nominal rate (or `--below-plain` of its plain rate) with `--refine`-style
refinement, decodes it, and prints the mean bpp from file bytes, PSNR and MS-SSIM beside the
plain rate-controlled encoding.

.venv/bin/python scripts/tune_refinement.py --op 0.635
"""

import argparse
import itertools
import statistics

from nodecode.codec import load_codec
from nodecode.codec.files import compressed_bytes, decode_image, symbols_from_bytes
from nodecode.codec.refine import RefineConfig
from nodecode.data.images import load_images
from nodecode.evaluate.metrics import quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--op", default="0.635", choices=("0.0983", "0.330", "0.635"))
    parser.add_argument("--images", default="photos:val")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-2, 2e-2, 3e-2])
    parser.add_argument("--rate-weight", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--adapt", type=float, nargs="+", default=[0.15, 0.5])
    parser.add_argument("--schedule", nargs="+", default=["cosine"], choices=("constant", "cosine"))
    parser.add_argument("--no-plain", action="store_true", help="skip the unrefined baseline")
    parser.add_argument(
        "--below-plain",
        type=float,
        default=None,
        metavar="FRACTION",
        help="target each photo at FRACTION of its plain file's rate instead of the nominal "
        "rate: the regime of busy photos cut down to nominal (0.635's test photos: 0.85)",
    )
    args = parser.parse_args()
    codec = load_codec(f"paper-{args.op}").eval()
    images = load_images(args.images)
    grid = itertools.product(args.lr, args.rate_weight, args.adapt, args.schedule)
    settings = [] if args.no_plain else [None]
    settings += [RefineConfig(args.steps, lr, w, a, schedule) for lr, w, a, schedule in grid]
    for refine in settings:
        rows = []
        for x in images.values():
            target: float | str = "nominal"
            if args.below_plain is not None:
                pixels = x.shape[-2] * x.shape[-1]
                target = args.below_plain * 8 * len(compressed_bytes(codec, x)) / pixels
            data = compressed_bytes(codec, x, bpp=target, refine=refine)
            header, symbols = symbols_from_bytes(codec, data)
            measured = quality(x, decode_image(codec, header, symbols))
            rows.append((8 * len(data) / header.num_pixels, measured["psnr"], measured["ms_ssim"]))
        name = "plain" if refine is None else f"lr={refine.lr:g} w={refine.rate_weight:g}"
        name += "" if refine is None else f" adapt={refine.adapt:g} {refine.schedule}"
        bpp, psnr, ms_ssim = (statistics.mean(column) for column in zip(*rows, strict=True))
        print(f"{name:28} {bpp:.4f} bpp {psnr:.2f} dB {ms_ssim:.4f}", flush=True)


if __name__ == "__main__":
    main()
