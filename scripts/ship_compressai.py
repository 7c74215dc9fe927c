"""Ship a CompressAI model trained by `train-codec --arch`: its floating-point tensors stored
in half precision (half the bytes; files stay exact, since encoder and decoder both use the
weights as loaded and the integer tables are rebuilt from them), the header kept, plus a note
of the storage.

.venv/bin/python scripts/ship_compressai.py runs/hp/hyperprior-q1.safetensors hyperprior-photos-1
"""

import argparse
from pathlib import Path

from nodecode.codec.compressai_models import CHECKPOINT_KIND
from nodecode.codec.zoo import SHIPPED_COMPRESSAI, shipped_path
from nodecode.utils.checkpoint import save_half_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trained", type=Path)
    parser.add_argument("name", choices=sorted(SHIPPED_COMPRESSAI))
    args = parser.parse_args()
    out = shipped_path(args.name)
    save_half_precision(args.trained, out, CHECKPOINT_KIND)
    print(f"wrote {out}: {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
