import struct
import zlib
from dataclasses import replace

import pytest
import torch

from nodecode.bitstream.container import (
    MAGIC,
    VERSION,
    NdcHeader,
    parse_ndc,
    read_ndc,
    write_ndc,
)
from nodecode.codec.files import (
    COLOR_STEP,
    compress_image,
    decompress_file,
    mean_preserving_offset,
    read_latent,
    read_symbols,
)
from nodecode.errors import BitstreamError, CodecMismatchError, ConfigError
from tests.conftest import make_tiny_codec


@pytest.fixture
def ndc_file(tmp_path, tiny_codec, photo):
    path = tmp_path / "photo.ndc"
    compress_image(tiny_codec, photo, path)
    return path


def test_file_round_trip_is_exact(tmp_path, tiny_codec, photo, ndc_file):
    header, symbols = read_symbols(tiny_codec, ndc_file)
    assert torch.equal(symbols, tiny_codec.encode(photo.unsqueeze(0))[0])
    assert header.image_size == (97, 119) and header.latent_shape == (4, 13, 15)
    assert header.codec_name == "tiny" and header.codec_id == tiny_codec.identity()
    _, image = decompress_file(tiny_codec, ndc_file)
    assert image.shape == photo.shape
    _, latent = read_latent(tiny_codec, ndc_file)
    assert torch.equal(latent, tiny_codec.dequantize(symbols))


def test_header_encodes_and_parses_back(ndc_file):
    header, payload = read_ndc(ndc_file)
    data = ndc_file.read_bytes()
    assert data.startswith(MAGIC) and data[4] == VERSION == header.version == 4
    assert header.split(payload) == [payload] and (header.stride, header.align) == (8, 8)
    assert parse_ndc(data) == (header, payload)


def test_the_color_offset_restores_the_mean_colour(tmp_path, tiny_codec, photo):
    """An untrained codec misses the mean colour by far; the file's offset puts it back."""
    compress_image(tiny_codec, photo, tmp_path / "plain.ndc", correct_color=False)
    compress_image(tiny_codec, photo, tmp_path / "fixed.ndc")
    plain_header, plain = decompress_file(tiny_codec, tmp_path / "plain.ndc")
    header, fixed = decompress_file(tiny_codec, tmp_path / "fixed.ndc")
    assert plain_header.color_offset == (0, 0, 0) and any(header.color_offset)
    before = (plain - photo).mean(dim=(1, 2)).abs() * 255
    after = (fixed - photo).mean(dim=(1, 2)).abs() * 255
    assert before.max() > 5 and after.max() < 1
    # Same symbols either way: the latent that inference reads does not change.
    assert torch.equal(
        read_symbols(tiny_codec, tmp_path / "plain.ndc")[1],
        read_symbols(tiny_codec, tmp_path / "fixed.ndc")[1],
    )


def test_version_1_files_still_read_and_have_no_color_offset(tmp_path, tiny_codec):
    v1 = NdcHeader("tiny", tiny_codec.identity(), (8, 8), (4, 1, 1), 6, 4, version=1)
    assert parse_ndc(forge(v1, b"\0" * 4))[0] == v1
    assert len(forge(v1, b"")) == len(forge(replace(v1, version=2), b"")) - 3
    with pytest.raises(BitstreamError, match="version-1 file has no colour offset"):
        write_ndc(tmp_path / "x.ndc", replace(v1, color_offset=(1, 0, 0)), b"\0" * 4)
    with pytest.raises(BitstreamError, match="out of range"):
        write_ndc(tmp_path / "x.ndc", replace(v1, version=2, color_offset=(500, 0, 0)), b"\0" * 4)


def test_version_4_holds_offsets_of_any_size_and_version_3_files_still_read(tmp_path, tiny_codec):
    v4 = NdcHeader("tiny", tiny_codec.identity(), (8, 8), (4, 1, 1), 6, 4, (-1020, 200, 1020))
    v4 = replace(v4, string_lengths=(4,))
    assert parse_ndc(forge(v4, b"\0" * 4))[0] == v4
    v3 = replace(v4, version=3, color_offset=(-128, 0, 127))
    assert parse_ndc(forge(v3, b"\0" * 4))[0] == v3
    assert len(forge(v3, b"")) == len(forge(v4, b"")) - 3
    with pytest.raises(BitstreamError, match="out of range"):
        write_ndc(tmp_path / "x.ndc", replace(v3, color_offset=(200, 0, 0)), b"\0" * 4)
    with pytest.raises(BitstreamError, match="out of range"):
        write_ndc(tmp_path / "x.ndc", replace(v4, color_offset=(1021, 0, 0)), b"\0" * 4)


def test_the_offset_keeps_the_mean_where_the_decoded_image_clips():
    """A dark photo: the decoder's shadows clip at black, so adding the plain mean error
    leaves the mean short; the offset is chosen on the clamped image. A strongly coloured
    one: the error is 50 levels, beyond what version-3 files could store (±32)."""
    image = torch.zeros(3, 40, 40)
    image[0, :, 20:] = 0.5  # red: half black, half mid-grey
    image[1] = 0.9  # green: a 50-level cast below
    decoded = image.clone()
    decoded[0, :, 20:] = 0.55  # the decoder brightens the greys by 13 levels, blacks stay
    decoded[1] = 0.9 - 50 / 255
    offset = torch.tensor(mean_preserving_offset(image, decoded)) * COLOR_STEP
    restored = (decoded + offset[:, None, None]).clamp(0, 1)
    error = (restored - image).mean(dim=(1, 2)).abs() * 255
    assert error.max() < 0.125 + 1e-4
    naive = (image - decoded).mean(dim=(1, 2))
    clipped = (decoded + naive[:, None, None]).clamp(0, 1)
    assert (clipped - image).mean(dim=(1, 2)).abs()[0] * 255 > 1  # what the plain mean gave


def test_every_truncation_is_a_clear_error(ndc_file):
    data = ndc_file.read_bytes()
    for cut in range(len(data)):
        with pytest.raises(BitstreamError, match="<cut>"):
            parse_ndc(data[:cut], "<cut>")


def test_every_single_bit_flip_is_detected(ndc_file):
    data = bytearray(ndc_file.read_bytes())
    for position in range(len(data)):
        for bit in (0, 5):
            corrupted = bytearray(data)
            corrupted[position] ^= 1 << bit
            with pytest.raises(BitstreamError):
                parse_ndc(bytes(corrupted))


def test_errors_name_the_file(tmp_path, ndc_file):
    bad = tmp_path / "bad.ndc"
    bad.write_bytes(b"GIF89a" + ndc_file.read_bytes()[6:])
    with pytest.raises(BitstreamError, match=r"bad\.ndc.*bad magic"):
        read_ndc(bad)
    with pytest.raises(BitstreamError, match=r"missing\.ndc: no such file"):
        read_ndc(tmp_path / "missing.ndc")
    with pytest.raises(BitstreamError, match="is a directory"):
        read_ndc(tmp_path)


def test_unknown_version_is_rejected(ndc_file):
    data = bytearray(ndc_file.read_bytes())
    data[4] = 5
    with pytest.raises(BitstreamError, match="version 5 is not supported"):
        parse_ndc(bytes(data))


def test_trailing_bytes_are_rejected(ndc_file):
    with pytest.raises(BitstreamError, match="trailing bytes"):
        parse_ndc(ndc_file.read_bytes() + b"\0")


def test_wrong_codec_is_refused(ndc_file):
    other = make_tiny_codec(seed=1, name="tiny")
    with pytest.raises(CodecMismatchError, match=r"photo\.ndc: written by codec 'tiny'"):
        read_symbols(other, ndc_file)


def forge(header: NdcHeader, payload: bytes) -> bytes:
    """A file with valid checksums but arbitrary (possibly absurd) header fields."""
    return header.encode() + payload + struct.pack("<I", zlib.crc32(payload))


def test_absurd_dimensions_are_rejected_before_any_allocation(tiny_codec):
    base = NdcHeader("tiny", tiny_codec.identity(), (8, 8), (4, 1, 1), 6, 4)
    cases = {
        "exceeds the": NdcHeader("tiny", base.codec_id, (2**31, 2**31), (4, 2**28, 2**28), 6, 4),
        "does not match image": NdcHeader("tiny", base.codec_id, (8, 8), (4, 9, 9), 6, 4),
        "channels": NdcHeader("tiny", base.codec_id, (8, 8), (60000, 1, 1), 6, 4),
        "empty": NdcHeader("tiny", base.codec_id, (0, 8), (4, 0, 1), 6, 4),
        "centers": NdcHeader("tiny", base.codec_id, (8, 8), (4, 1, 1), 1, 4),
    }
    for message, header in cases.items():
        with pytest.raises(BitstreamError, match=message):
            parse_ndc(forge(header, b"\0" * 4))


def test_decompression_bomb_is_rejected(tmp_path, tiny_codec):
    header = NdcHeader("tiny", tiny_codec.identity(), (4000, 4000), (4, 500, 500), 6, 4)
    bomb = tmp_path / "bomb.ndc"
    bomb.write_bytes(forge(header, b"\0" * 4))
    with pytest.raises(BitstreamError, match="decompression bomb"):
        read_symbols(tiny_codec, bomb)


def test_images_over_the_decoding_budget_are_refused_unless_raised(
    tmp_path, tiny_codec, ndc_file, monkeypatch
):
    monkeypatch.setenv("NODECODE_MAX_PIXELS", "1000")
    with pytest.raises(BitstreamError, match=r"photo\.ndc: 97x119 pixels exceed.*NODECODE_MAX"):
        read_symbols(tiny_codec, ndc_file)
    monkeypatch.setenv("NODECODE_MAX_PIXELS", "20000")
    assert read_symbols(tiny_codec, ndc_file)[1].shape == (4, 13, 15)
    monkeypatch.setenv("NODECODE_MAX_PIXELS", "64M")
    with pytest.raises(ConfigError, match="NODECODE_MAX_PIXELS='64M' is not a positive"):
        read_symbols(tiny_codec, ndc_file)


def rewrite(path, header, payload):
    """The file with a new payload, its length and both CRCs fixed up, as an attacker would."""
    fixed = replace(header, payload_length=len(payload), string_lengths=(len(payload),))
    path.write_bytes(forge(fixed, payload))
    return path


def test_a_cut_or_padded_payload_with_fixed_checksums_is_refused(tmp_path, tiny_codec, ndc_file):
    header, payload = read_ndc(ndc_file)
    for name, forged in {"cut": payload[:-4], "padded": payload + bytes(4)}.items():
        file = rewrite(tmp_path / f"{name}.ndc", header, forged)
        with pytest.raises(BitstreamError, match=f"{name}\\.ndc: payload is corrupted"):
            read_symbols(tiny_codec, file)


def test_symbols_outside_the_alphabet_are_refused(tmp_path, tiny_codec, ndc_file):
    from compressai.ans import RansEncoder

    header, _ = read_ndc(ndc_file)
    c, h, w = header.latent_shape
    tables = tiny_codec.cdfs.tolist()
    for bad in (-1, -40000, 6, 99):  # escape codes: CompressAI's coder can write them
        symbols = torch.zeros(header.latent_shape, dtype=torch.int32)
        symbols[1, 2, 3] = bad
        indexes = [channel for channel in range(c) for _ in range(h * w)]
        stream = RansEncoder().encode_with_indexes(
            symbols.reshape(-1).tolist(), indexes, tables, [len(tables[0])] * c, [0] * c
        )
        file = rewrite(tmp_path / "escape.ndc", header, stream)
        with pytest.raises(BitstreamError, match="outside the alphabet"):
            read_symbols(tiny_codec, file)


def test_a_header_that_disagrees_with_the_codec_is_refused(tmp_path, tiny_codec, ndc_file):
    header, payload = read_ndc(ndc_file)
    lies = {
        "channels": replace(header, latent_shape=(3, 13, 15)),
        "centers": replace(header, num_centers=5),
    }
    for name, lie in lies.items():
        file = rewrite(tmp_path / f"{name}.ndc", lie, payload)
        with pytest.raises(BitstreamError, match=r"but codec 'tiny' has \(4, 6, 8, 8, 1\)"):
            read_symbols(tiny_codec, file)


def test_write_is_atomic_and_validates(tmp_path, tiny_codec):
    target = tmp_path / "out.ndc"
    target.write_bytes(b"previous content")
    bad = NdcHeader("tiny", tiny_codec.identity(), (8, 8), (4, 5, 5), 6, 3)
    with pytest.raises(BitstreamError):
        write_ndc(target, bad, b"abc")
    assert target.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ndc"]


def test_version_3_holds_several_strings_and_checks_their_lengths(tmp_path):
    header = NdcHeader(
        "compressai:bmshj2018-hyperprior:1",
        b"\1" * 16,
        (70, 90),
        (8, 8, 8),  # ŷ at 1/16 of the image padded to 128x128
        0,
        7,
        stride=16,
        align=64,
        string_lengths=(5, 2),
    )
    parsed, payload = parse_ndc(forge(header, b"yyyyyzz"))
    assert parsed == header and parsed.split(payload) == [b"yyyyy", b"zz"]
    bad = {
        "do not add up": replace(header, string_lengths=(5, 3)),
        "strings \\(limit": replace(header, string_lengths=(1,) * 7 + (0,) * 2),
        "does not match image": replace(header, latent_shape=(8, 5, 6)),
        "stride 12": replace(header, stride=12),
        "not a multiple of the stride": replace(header, align=8),
        "centers is invalid": replace(
            header, version=2, stride=8, align=8, string_lengths=(), latent_shape=(8, 9, 12)
        ),
    }
    for message, h in bad.items():
        with pytest.raises(BitstreamError, match=message):
            write_ndc(tmp_path / "x.ndc", h, b"yyyyyzz")
    with pytest.raises(BitstreamError, match="strings \\(limit"):  # a forged count
        parse_ndc(forge(replace(header, string_lengths=(1,) * 7 + (0,) * 2), b"yyyyyzz"))
