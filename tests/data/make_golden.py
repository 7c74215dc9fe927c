"""Regenerate the golden `.ndc` file. Run only when the format version changes:

.venv/bin/python -m tests.data.make_golden
"""

import hashlib
import json
from pathlib import Path

from nodecode.codec import save_codec
from nodecode.codec.files import compress_image, read_symbols
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from tests.conftest import make_tiny_codec


def main() -> None:
    folder = Path(__file__).parent / "golden"
    codec = make_tiny_codec(seed=0, name="golden-tiny")
    save_codec(codec, folder / "codec.safetensors")
    image = pil_to_tensor(load_photo("coffee"))[:, 50:111, 200:277]
    compress_image(codec, image, folder / "coffee.ndc")
    _, symbols = read_symbols(codec, folder / "coffee.ndc")
    expected = {
        "symbols_sha256": hashlib.sha256(symbols.numpy().tobytes()).hexdigest(),
        "latent_shape": list(symbols.shape),
        "codec_id": codec.identity().hex(),
    }
    (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
