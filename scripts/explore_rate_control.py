"""Exploration for issue 9: per-image rate control at encode time, decoder unchanged.

Each latent entry takes the center minimising (z − c)² + λ·bits(c) under the codec's own
tables, with λ bisected per photo until its file lands at the nominal bpp (λ = 0 is the
codec's plain nearest-center encoding). Prints, per held-out photo, the natural and the
controlled rate with PSNR / MS-SSIM, and JPEG at the largest quality within that rate.

.venv/bin/python scripts/explore_rate_control.py 0.330
"""

import argparse
import statistics

import torch

from nodecode.bitstream.rans import encode_symbols
from nodecode.bitstream.tables import PRECISION, symbol_frequencies
from nodecode.codec import load_codec
from nodecode.data.images import load_images
from nodecode.evaluate.baselines import at_rate
from nodecode.evaluate.metrics import quality

JPEG_FLOOR = 0.12  # bpp below which JPEG cannot go on these photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("op", choices=("0.0983", "0.330", "0.635"))
    parser.add_argument("--images", default="photos:test")
    parser.add_argument("--max-lambda", type=float, default=8.0)
    args = parser.parse_args()
    codec = load_codec(f"paper-{args.op}").eval()
    target = float(args.op)
    cdfs = codec.cdfs.cpu()
    frequencies = symbol_frequencies(cdfs)[:, : codec.num_centers].double()  # escape left out
    bits = (PRECISION - torch.log2(frequencies)).float()  # (C, L): the code length of each
    centers = codec.quantizer.centers.detach()

    def symbols_at(z: torch.Tensor, lam: float) -> torch.Tensor:
        cost = (z.unsqueeze(-1) - centers) ** 2 + lam * bits[None, :, None, None, :]
        return cost.argmin(-1)

    def bpp(symbols: torch.Tensor, pixels: int) -> float:
        return sum(len(encode_symbols(s, cdfs)) for s in symbols) * 8 / pixels

    rows = []
    for name, x in load_images(args.images).items():
        with torch.no_grad():
            z = codec.analysis(codec.pad(x[None]))
        pixels = x.shape[-1] * x.shape[-2]
        natural = symbols_at(z, 0.0)
        lam = 0.0  # photos at or under the nominal rate keep their natural encoding
        if bpp(natural, pixels) > target:
            low, lam = 0.0, args.max_lambda  # bisect the smallest λ that fits the rate
            for _ in range(16):
                middle = (low + lam) / 2
                if bpp(symbols_at(z, middle), pixels) > target:
                    low = middle
                else:
                    lam = middle
        row = {"image": name, "lambda": lam}
        for label, symbols in (("natural", natural), ("controlled", symbols_at(z, lam))):
            rate = bpp(symbols, pixels)
            with torch.no_grad():
                x_hat = codec.decode(symbols, x.shape[-2:])[0].clamp(0, 1)
            ours = quality(x, x_hat)
            jpeg = quality(x, at_rate("jpeg", x, rate).image) if rate > JPEG_FLOOR else None
            row[label] = (rate, ours["psnr"], ours["ms_ssim"], jpeg)
        rows.append(row)
        for label in ("natural", "controlled"):
            rate, p, m, jpeg = row[label]
            versus = f"JPEG {jpeg['psnr']:.2f} / {jpeg['ms_ssim']:.4f}" if jpeg else "JPEG n/a"
            print(f"{name[:16]:16} {label:10} {rate:.4f} bpp {p:.2f} dB / {m:.4f} ({versus})")
    for label in ("natural", "controlled"):
        rates = [r[label][0] for r in rows]
        ours = [(r[label][1], r[label][2]) for r in rows]
        jpegs = [r[label][3] for r in rows if r[label][3]]
        line = f"mean {label}: {statistics.mean(rates):.4f} bpp"
        line += f", {statistics.mean(p for p, _ in ours):.2f} dB"
        line += f" / {statistics.mean(m for _, m in ours):.4f}"
        if len(jpegs) == len(rows):
            line += f" (JPEG {statistics.mean(j['psnr'] for j in jpegs):.2f} dB"
            line += f" / {statistics.mean(j['ms_ssim'] for j in jpegs):.4f})"
        print(line)


if __name__ == "__main__":
    main()
