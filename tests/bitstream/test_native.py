"""The coder's native modules load without CompressAI's package, and the package still
works (with them as attributes) when something imports it later."""

import subprocess
import sys

CODE = """
import sys
from pathlib import Path
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.files import read_symbols
codec = load_codec_checkpoint(Path("tests/data/golden/codec.safetensors"))
header, symbols = read_symbols(codec, Path("tests/data/golden/coffee-v2.ndc"))
print("package" if "compressai" in sys.modules else "no package", tuple(symbols.shape))
import compressai.ans, compressai.entropy_models
print(compressai.ans is sys.modules["compressai.ans"])
"""


def test_decoding_does_not_import_the_compressai_package():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    first, second = out.stdout.strip().splitlines()
    assert first.startswith("no package (") and second == "True"
