"""Write the fuzzers' seed corpus: real files of the golden codec at awkward sizes.

.venv/bin/python -m tests.fuzz.make_corpus
"""

import shutil
from pathlib import Path

from nodecode.codec.files import compress_image
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from tests.fuzz.target import GOLDEN, codec

CORPUS = Path(__file__).parent / "corpus"
SIZES = ((1, 1), (8, 8), (9, 17), (33, 64), (64, 40))


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name in ("coffee.ndc", "coffee-v2.ndc"):
        shutil.copyfile(GOLDEN / name, CORPUS / f"golden-{name}")
    photo = pil_to_tensor(load_photo("astronaut"))
    for h, w in SIZES:
        compress_image(codec(), photo[:, 100 : 100 + h, 150 : 150 + w], CORPUS / f"{h}x{w}.ndc")


if __name__ == "__main__":
    main()
