"""Every seed and every input the fuzzers once found stays a clean error or a correct result."""

import io
from pathlib import Path

import pytest

from tests.fuzz.target import TARGETS, fix_checksums

HERE = Path(__file__).parent
INPUTS = sorted(
    (target, path)
    for target in TARGETS
    for folder in ("corpus", "regressions")
    for path in (HERE / folder / target).glob("*")
    if path.is_file()
)


@pytest.mark.parametrize(
    ("target", "path"), INPUTS, ids=lambda v: v if isinstance(v, str) else v.name
)
def test_input_is_a_clean_error_or_a_correct_result(target, path):
    data = path.read_bytes()
    TARGETS[target](data)
    TARGETS[target](data[: len(data) // 2])  # cut short
    if target == "ndc":
        TARGETS[target](fix_checksums(data[:-7] + b"\x01" * 3))


def test_every_target_has_seeds():
    assert {target for target, _ in INPUTS} == set(TARGETS)


def test_checksum_fixing_reaches_the_payload_checks():
    """A fixed-up cut payload fails the canonical-stream check, not the CRC."""
    from nodecode.codec.files import symbols_from_bytes
    from nodecode.errors import BitstreamError
    from tests.fuzz.target import codec

    data = (HERE.parents[0] / "data" / "golden" / "coffee-v2.ndc").read_bytes()
    with pytest.raises(BitstreamError, match="payload is corrupted"):
        symbols_from_bytes(codec(), fix_checksums(data[:-8] + data[-4:]))


def test_checkpoint_and_png_fixers_keep_files_well_formed():
    from PIL import Image

    from tests.fuzz.target import fix_png_crcs, join_safetensors, split_safetensors

    seed = HERE / "corpus" / "checkpoint" / "golden-codec.safetensors"
    header, body = split_safetensors(seed.read_bytes())
    header["__metadata__"]["extra"] = "x"
    TARGETS["checkpoint"](join_safetensors(header, body))
    png = bytearray((HERE / "corpus" / "image" / "rgb.png").read_bytes())
    png[29] ^= 0xFF  # IHDR's CRC (8 signature + 8 length/type + 13 data bytes)
    with pytest.raises((SyntaxError, OSError)):  # Pillow checks chunk CRCs
        Image.open(io.BytesIO(bytes(png))).load()
    with Image.open(io.BytesIO(fix_png_crcs(bytes(png)))) as image:
        image.load()
