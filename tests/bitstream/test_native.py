"""The coder's native modules load without CompressAI's package, and the package still
works (with them as attributes) when something imports it later."""

import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parents[1] / "data" / "golden"

CODE = """
import sys
from pathlib import Path
from nodecode.codec import load_codec_checkpoint
from nodecode.codec.files import read_symbols
codec = load_codec_checkpoint(Path(GOLDEN) / "codec.safetensors")
header, symbols = read_symbols(codec, Path(GOLDEN) / "coffee-v2.ndc")
print("package" if "compressai" in sys.modules else "no package", tuple(symbols.shape))
import compressai.ans, compressai.entropy_models
print(compressai.ans is sys.modules["compressai.ans"])
"""


def test_decoding_does_not_import_the_compressai_package():
    code = f"GOLDEN = {str(GOLDEN)!r}\n" + CODE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.strip().splitlines()
    assert first.startswith("no package (") and second == "True"
