"""Write the golden `.ndc` file of the current format version. Run only when the version
changes; files of earlier versions stay as they are, so every version keeps being read:

.venv/bin/python -m tests.data.make_golden
"""

import hashlib
import json
from pathlib import Path

from nodecode.bitstream.container import VERSION, read_ndc
from nodecode.codec import load_codec_checkpoint, save_codec
from nodecode.codec.files import compress_image, read_symbols
from nodecode.data.images import pil_to_tensor
from nodecode.data.photos import load_photo
from tests.conftest import make_tiny_codec

FOLDER = Path(__file__).parent / "golden"


def golden_name(version: int) -> str:
    return "coffee.ndc" if version == 1 else f"coffee-v{version}.ndc"


def main() -> None:
    if not (FOLDER / "codec.safetensors").is_file():
        save_codec(make_tiny_codec(seed=0, name="golden-tiny"), FOLDER / "codec.safetensors")
    codec = load_codec_checkpoint(FOLDER / "codec.safetensors")
    image = pil_to_tensor(load_photo("coffee"))[:, 50:111, 200:277]
    compress_image(codec, image, FOLDER / golden_name(VERSION))
    expected = json.loads((FOLDER / "expected.json").read_text())
    files = {}
    for version in range(1, VERSION + 1):
        header, _ = read_ndc(FOLDER / golden_name(version))
        _, symbols = read_symbols(codec, FOLDER / golden_name(version))
        assert (
            hashlib.sha256(symbols.numpy().tobytes()).hexdigest() == (expected["symbols_sha256"])
        ), "the golden codec no longer encodes the golden image to the same symbols"
        files[golden_name(version)] = {
            "version": header.version,
            "color_offset": list(header.color_offset),
        }
    expected["files"] = files
    (FOLDER / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
