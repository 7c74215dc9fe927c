"""Format stability: committed `.ndc` files of every version keep decoding the same way."""

import hashlib
import json
from pathlib import Path

import pytest
import torch

from nodecode.bitstream.container import VERSION, read_ndc
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.files import read_symbols

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


def test_every_format_version_has_a_golden_file():
    assert sorted(f["version"] for f in EXPECTED["files"].values()) == list(range(1, VERSION + 1))


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_golden_file_decodes_bit_exactly(name):
    codec = load_codec_checkpoint(GOLDEN / "codec.safetensors")
    assert codec.identity().hex() == EXPECTED["codec_id"]
    header, symbols = read_symbols(codec, GOLDEN / name)
    assert list(symbols.shape) == EXPECTED["latent_shape"]
    assert hashlib.sha256(symbols.numpy().tobytes()).hexdigest() == EXPECTED["symbols_sha256"]
    assert header.version == EXPECTED["files"][name]["version"]
    assert list(header.color_offset) == EXPECTED["files"][name]["color_offset"]


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_golden_symbols_re_encode_to_the_same_bytes(name):
    codec = load_codec_checkpoint(GOLDEN / "codec.safetensors")
    header, payload = read_ndc(GOLDEN / name)
    _, symbols = read_symbols(codec, GOLDEN / name)
    assert codec.compress_symbols(symbols.unsqueeze(0)) == [payload]
    assert header.encode() == (GOLDEN / name).read_bytes()[: len(header.encode())]
    assert codec.cdfs.dtype == torch.int32


def test_golden_context_coded_file_decodes_bit_exactly_and_re_encodes():
    """Context coding (docs/FORMAT.md): the symbols of the v3 golden file, coded in context
    by the golden codec with context tables; their pass order and context numbering are
    part of the format."""
    golden = EXPECTED["context"]
    codec = load_codec_checkpoint(GOLDEN / golden["codec"])
    assert codec.identity().hex() == golden["codec_id"] and codec.config.context_levels == 2
    header, symbols = read_symbols(codec, GOLDEN / golden["file"])
    assert hashlib.sha256(symbols.numpy().tobytes()).hexdigest() == EXPECTED["symbols_sha256"]
    _, payload = read_ndc(GOLDEN / golden["file"])
    assert codec.compress_symbols(symbols.unsqueeze(0)) == [payload]
