"""Peak memory of encoding and decoding one large image, whole or in tiles (fresh processes).

.venv/bin/python scripts/codec_memory.py --side 4096
"""

import argparse
import json
import subprocess
import sys

from nodecode.codec.autoencoder import DECODE_TILE

CHILD = """
import resource, time, torch
from nodecode.codec.zoo import load_codec
torch.set_num_threads(1)
codec = load_codec({codec!r})
shape = (1, codec.config.latent_channels, {side} // 8, {side} // 8)
symbols = torch.randint(0, codec.num_centers, shape)
image = torch.rand(1, 3, {side}, {side}) if {encode} else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if {encode}:
    codec.encode(image, tile={tile})
else:
    codec.decode(symbols, ({side}, {side}), tile={tile})
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before / 1024, peak / 1024, seconds)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--codec", default="paper-0.635")
    args = parser.parse_args()
    rows = []
    for encode in (False, True):
        for label, tile in (("whole", 10**9), ("tiled (default)", DECODE_TILE)):
            code = CHILD.format(codec=args.codec, side=args.side, tile=tile, encode=encode)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            out.check_returncode()
            before, peak, seconds = map(float, out.stdout.split())
            rows.append(
                {
                    "pass": "encode" if encode else "decode",
                    "how": label,
                    "added_mb": round(peak - before),
                    "s": round(seconds, 1),
                }
            )
    print(f"{args.side}² with {args.codec} (one thread):")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
