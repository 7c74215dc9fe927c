"""Judge claims 1 and 3 of a finished reproduction again, from its results.json alone, with
the report's current (two-sided) rules; claim 2 needs the run's model files, claim 4 is
one-sided and unchanged.

.venv/bin/python scripts/rejudge_claims.py docs/reproduction/small/results.json
"""

import json
import sys
from pathlib import Path

from nodecode.reproduce.claims import verdict_close, verdict_segmentation
from nodecode.reproduce.presets import LOWEST, OPS
from nodecode.reproduce.results import mean_std, metric_values


def gaps(results: dict, prefix: str, latent: str, decoded: str, metric: str) -> dict[str, float]:
    return {
        op: mean_std(metric_values(results, f"{prefix}-{op}-{latent}", metric))[0]
        - mean_std(metric_values(results, f"{prefix}-{op}-{decoded}", metric))[0]
        for op in OPS
    }


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    cls = gaps(results, "cls", "cresnet51", "resnet50", "top1")
    seg = gaps(results, "seg", "cresnet51-d", "resnet50-d", "miou")
    for number, diffs, verdict in (
        (1, cls, verdict_close(cls)),
        (3, seg, verdict_segmentation(seg, LOWEST)),
    ):
        shown = ", ".join(f"{op}: {d:+.2f}" for op, d in diffs.items())
        print(f"claim {number}: {verdict} (latent − decoded: {shown})")


if __name__ == "__main__":
    main()
