"""Every seed and every input the fuzzers once found stays a clean error or a correct decode."""

from pathlib import Path

import pytest

from tests.fuzz.target import check_input, fix_checksums

HERE = Path(__file__).parent
INPUTS = sorted(p for d in ("corpus", "regressions") for p in (HERE / d).glob("*") if p.is_file())


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_input_is_a_clean_error_or_a_correct_decode(path):
    check_input(path.read_bytes())
    check_input(fix_checksums(path.read_bytes()[:-7] + b"\x01" * 3))


def test_checksum_fixing_reaches_the_payload_checks():
    """A fixed-up cut payload fails the canonical-stream check, not the CRC."""
    from nodecode.codec.files import symbols_from_bytes
    from nodecode.errors import BitstreamError
    from tests.fuzz.target import codec

    data = (HERE.parents[0] / "data" / "golden" / "coffee-v2.ndc").read_bytes()
    with pytest.raises(BitstreamError, match="payload is corrupted"):
        symbols_from_bytes(codec(), fix_checksums(data[:-8] + data[-4:]))
