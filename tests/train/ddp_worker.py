"""Run by `torchrun` in test_distributed.py: a few DDP steps, then each rank reports its weights."""

import json
import sys
from pathlib import Path

from nodecode.train.tasks import TaskTrainConfig, train_task


def main(out: str, latents: str) -> None:
    config = TaskTrainConfig(
        model="cresnet39",
        input="latent",
        latents=latents,
        data="fashion-scenes:tiny",
        width=0.125,
        epochs=1,
        batch_size=8,
        lr=0.05,
    )
    result = train_task(config, out)
    import os

    rank = os.environ["RANK"]
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
