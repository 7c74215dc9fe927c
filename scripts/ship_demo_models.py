"""Ship the demo's task models from a `nodecode reproduce` run: the seed-0 cResNet-51 and
ResNet-50 classifiers and their -d segmenters at each operating point, stored in half
precision (docs/RESULTS.md §5 measured what that costs: at most one test image in 2,000).

.venv/bin/python scripts/ship_demo_models.py runs/rep-small
"""

import argparse
from pathlib import Path

from nodecode.codec.config import OPERATING_POINTS
from nodecode.models.zoo import weights_folder
from nodecode.utils.checkpoint import save_half_precision

NETWORKS = ("cresnet51", "resnet50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="the --out folder of `nodecode reproduce`")
    args = parser.parse_args()
    dest = weights_folder()
    total = 0
    for op in OPERATING_POINTS:
        for net in NETWORKS:
            for task, suffix in (("cls", ""), ("seg", "-d")):
                source = args.run / "stages" / f"{task}-{op}-{net}{suffix}-s0" / "model.safetensors"
                target = dest / f"{net}{suffix}-{op}.safetensors"
                save_half_precision(source, target, ("classifier", "segmenter"))
                total += target.stat().st_size
    print(f"wrote {dest}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
