"""Coverage-guided fuzzing (atheris) of every untrusted input: `.ndc` files through the
whole decode path (the paper's codecs, and a CompressAI hyperprior's), checkpoints, and
images handed to `compress`.

Custom mutators reach past the formats' integrity checks as an attacker would: `.ndc`
payload length and CRCs, the safetensors header length (and mutations of the nodecode
header and tensor entries inside it), PNG chunk CRCs. Seeds: tests/fuzz/corpus/TARGET.

    make fuzz                   # each target 30 minutes
    .venv/bin/python tests/fuzz/fuzz.py ndc -max_total_time=60 CORPUS_DIR

An input that fails is written as crash-*/timeout-*/oom-*: add it to
tests/fuzz/regressions/TARGET/, which tests/fuzz/test_regressions.py replays without atheris.
"""

import json
import os
import random
import sys
from pathlib import Path

import atheris

from nodecode.utils.limits import MAX_PIXELS_ENV

sys.path.insert(0, str(Path(__file__).parents[2]))

with atheris.instrument_imports(include=["nodecode", "tests.fuzz"]):
    from tests.fuzz.target import (
        TARGETS,
        codec,
        fix_checksums,
        fix_png_crcs,
        hyperprior,
        join_safetensors,
        split_safetensors,
    )


def mutate_ndc(data: bytes, max_size: int, seed: int) -> bytes:
    data = atheris.Mutate(data, max_size)
    return fix_checksums(data) if random.Random(seed).random() < 0.9 else data


def mutate_checkpoint(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    parts = split_safetensors(data)
    if parts is None or rng.random() < 0.1:
        return atheris.Mutate(data, max_size)
    header, body = parts
    choice = rng.random()
    meta = header.get("__metadata__")
    if choice < 0.5 and isinstance(meta, dict) and isinstance(meta.get("nodecode"), str):
        raw = meta["nodecode"].encode()
        meta["nodecode"] = atheris.Mutate(raw, 2 * len(raw) + 64).decode("utf-8", "replace")
    elif choice < 0.85:
        keys = [k for k in header if k != "__metadata__"]
        if keys:
            key = rng.choice(keys)
            raw = json.dumps(header[key]).encode()
            try:
                header[key] = json.loads(atheris.Mutate(raw, 2 * len(raw) + 16))
            except (ValueError, RecursionError):
                del header[key]
    else:
        body = atheris.Mutate(body, max(len(body) + 64, 64))
    mutated = join_safetensors(header, body)
    return mutated if len(mutated) <= max_size else atheris.Mutate(data, max_size)


def mutate_image(data: bytes, max_size: int, seed: int) -> bytes:
    data = atheris.Mutate(data, max_size)
    return fix_png_crcs(data) if random.Random(seed).random() < 0.9 else data


MUTATORS = {
    "ndc": mutate_ndc,
    "compressai": mutate_ndc,
    "checkpoint": mutate_checkpoint,
    "image": mutate_image,
}
# Images get a 4 Mpx budget here, so a legitimate read at the limit (about 18 bytes a pixel:
# PIL's pixels, one uint8 copy, the float tensor) stays far inside libFuzzer's RSS cap and an
# allocation the budget does not bound stands out.
IMAGE_FUZZ_PIXELS = "4000000"


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options] CORPUS_DIR")
    target = sys.argv.pop(1)
    if target == "image":
        os.environ.setdefault(MAX_PIXELS_ENV, IMAGE_FUZZ_PIXELS)
    codec()  # load once, outside the timed inputs
    if target == "compressai":
        hyperprior()
    atheris.Setup(sys.argv, TARGETS[target], custom_mutator=MUTATORS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
