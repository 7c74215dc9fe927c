"""Ship a CompressAI model trained by `train-codec --arch`: its floating-point tensors stored
in half precision (half the bytes; files stay exact, since encoder and decoder both use the
weights as loaded and the integer tables are rebuilt from them), the header kept, plus a note
of the storage.

.venv/bin/python scripts/ship_compressai.py runs/hp/hyperprior-q1.safetensors hyperprior-photos-1
"""

import argparse
from pathlib import Path

import torch

from nodecode.codec.compressai_models import CHECKPOINT_KIND
from nodecode.codec.zoo import SHIPPED_COMPRESSAI, _shipped_path
from nodecode.utils.checkpoint import load_tensors, save_tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trained", type=Path)
    parser.add_argument("name", choices=sorted(SHIPPED_COMPRESSAI))
    args = parser.parse_args()
    tensors, meta = load_tensors(args.trained, CHECKPOINT_KIND)
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {k: v for k, v in meta.items() if k not in ("kind", "format_version")}
    meta["storage"] = "float16"
    out = _shipped_path(args.name)
    save_tensors(out, half, CHECKPOINT_KIND, meta)
    print(f"wrote {out}: {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
