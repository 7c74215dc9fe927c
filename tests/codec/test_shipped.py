"""The small codecs shipped in the package: loadable, ready, and honest about their rate."""

import pytest

from nodecode.codec import load_codec
from nodecode.codec.files import compress_image
from nodecode.codec.zoo import shipped_codecs
from nodecode.data.images import load_images

EXPECTED = ["small-0.0983", "small-0.330", "small-0.635"]


def test_all_three_operating_points_are_shipped():
    assert shipped_codecs() == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_payload_is_within_3_percent_of_the_table_estimate_on_held_out_photos(name, tmp_path):
    from nodecode.bitstream.tables import symbol_bits

    codec = load_codec(name)
    assert codec.ready and codec.name == name
    for image_name, image in load_images("skimage:test").items():
        info = compress_image(codec, image, tmp_path / f"{image_name}.ndc")
        symbols = codec.encode(image.unsqueeze(0))[0]
        estimate = symbol_bits(symbols, codec.cdfs) / 8
        assert info.header.payload_length == pytest.approx(estimate, rel=0.03)
