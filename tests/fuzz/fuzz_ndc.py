"""Coverage-guided fuzzing (atheris) of the `.ndc` parser and the whole decode path.

A custom mutator fixes the payload length and both CRCs after libFuzzer's mutation, so
inputs get past the checksums. Seeds: tests/fuzz/corpus (golden and real files).

    make fuzz                   # 30 minutes
    .venv/bin/python tests/fuzz/fuzz_ndc.py -max_total_time=60 CORPUS_DIR   # as in make test

An input that fails is written as crash-*/timeout-*/oom-*: add it to tests/fuzz/regressions/,
which tests/fuzz/test_regressions.py replays without atheris.
"""

import random
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).parents[2]))

with atheris.instrument_imports(include=["nodecode", "tests.fuzz"]):
    from tests.fuzz.target import check_input, codec, fix_checksums


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    data = atheris.Mutate(data, max_size)
    return fix_checksums(data) if random.Random(seed).random() < 0.9 else data


def main() -> None:
    codec()  # load once, outside the timed inputs
    atheris.Setup(sys.argv, check_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
