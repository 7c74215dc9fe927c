"""Named codecs: shipped trained models and untrained paper-width builders (a registry).

`paper-OP`: width 1.0 (the paper's 64/128 channels), sub-pixel decoder, trained on the
natural-photo corpus and rate-calibrated (docs/RESULTS.md gives the commands).
`small-OP`: the earlier width-0.5 codecs (transposed-conv decoder, 13 bundled images),
small and quick: what the tests encode with.
`paper-OP-untrained`: a fresh paper-width codec, e.g. to train from scratch.
`compressai:ARCH:QUALITY[:FILE]`: a CompressAI model (codec/compressai_models.py).
`hyperprior-photos-1`: CompressAI's bmshj2018-hyperprior at quality 1, trained here on the
photo corpus (Gupta et al.'s backend, offline; docs/RESULTS.md §8b).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import torch

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.checkpoint import CodecInfo, load_codec_checkpoint, read_codec_info
from nodecode.codec.compressai_models import (
    PREFIX,
    CompressAICodec,
    is_compressai_spec,
    load_compressai_codec,
)
from nodecode.codec.config import OPERATING_POINTS, operating_point
from nodecode.errors import ConfigError
from nodecode.utils.shipped import ShippedEnum, ShippedWeights

FAMILIES = ("paper", "small")
DEFAULT_FAMILY = "paper"
SMALL_WIDTH = 0.5
UNTRAINED = "-untrained"
# Every codec nodecode reads and writes files with: the paper's, and CompressAI's models.
Codec = ConvAutoencoder | CompressAICodec
_WEIGHTS = "weights"


# Shipped CompressAI models trained by nodecode: name → the architecture and quality they are.
SHIPPED_COMPRESSAI = {"hyperprior-photos-1": f"{PREFIX}bmshj2018-hyperprior:1"}


def shipped_path(name: str) -> Path:
    """Where the package keeps (or would keep) the shipped codec `name`."""
    return Path(str(resources.files("nodecode.codec") / _WEIGHTS / f"{name}.safetensors"))


def shipped_compressai() -> list[str]:
    return [n for n in SHIPPED_COMPRESSAI if shipped_path(n).is_file()]


def shipped_codecs(family: str | None = None) -> list[str]:
    """Trained codecs in the package, one per operating point and family."""
    families = FAMILIES if family is None else (family,)
    names = [f"{f}-{op}" for f in families for op in OPERATING_POINTS]
    return [n for n in names if shipped_path(n).is_file()]


def default_codecs() -> list[str]:
    """The codecs the demo, the docs and `eval-codec` use unless told otherwise."""
    return shipped_codecs(DEFAULT_FAMILY) or shipped_codecs()


def paper_codec(op: str) -> ConvAutoencoder:
    """Untrained codec at the paper's widths (64/128) for operating point `op`."""
    return ConvAutoencoder(
        operating_point(op).codec_config(width=1.0), name=f"paper-{op}{UNTRAINED}"
    )


def list_codecs() -> list[str]:
    untrained = [f"paper-{op}{UNTRAINED}" for op in OPERATING_POINTS]
    return shipped_codecs() + shipped_compressai() + untrained


def load_codec(spec: str | Path, device: str | torch.device = "cpu") -> Codec:
    """A codec from a registry name (`paper-0.330`, `small-0.635`,
    `compressai:bmshj2018-hyperprior:3`) or a checkpoint path."""
    spec = str(spec)
    if is_compressai_spec(spec):
        return load_compressai_codec(spec, device)
    if spec in shipped_codecs():
        return load_codec_checkpoint(shipped_path(spec), device)
    if spec in shipped_compressai():
        architecture = f"{SHIPPED_COMPRESSAI[spec]}:{shipped_path(spec)}"
        return load_compressai_codec(architecture, device, name=spec)
    op = spec.removeprefix("paper-").removesuffix(UNTRAINED)
    if spec == f"paper-{op}{UNTRAINED}" and op in OPERATING_POINTS:
        return paper_codec(op).to(device)
    if Path(spec).is_file():
        return load_codec_checkpoint(spec, device)
    raise ConfigError(f"unknown codec {spec!r}: not a file, and not one of {list_codecs()}")


def codec_info(spec: str | Path) -> CodecInfo:
    """What a shipped codec (by name) or a codec checkpoint says about itself, from its header."""
    spec = str(spec)
    if spec in shipped_codecs():
        return read_codec_info(shipped_path(spec))
    if Path(spec).is_file():
        return read_codec_info(spec)
    raise ConfigError(f"unknown codec {spec!r}: not a file, and not one of {shipped_codecs()}")


def shipped_compressai_training(name: str) -> dict:
    """A shipped CompressAI model's training record (data, steps, device…), from its header."""
    from nodecode.codec.compressai_models import CHECKPOINT_KIND
    from nodecode.utils.checkpoint import read_meta

    return dict(read_meta(shipped_path(name), CHECKPOINT_KIND).get("training", {}))


HYPERPRIOR_RECIPE = "docs/RESULTS.md §8b: train-codec --arch bmshj2018-hyperprior on photos:train"
PAPER_RECIPE = "docs/RESULTS.md §2b: train-codec on photos:train, rate-calibrated"
SMALL_RECIPE = "docs/RESULTS.md §2: train-codec --width 0.5 on the 13 bundled images"


class CodecWeights(ShippedEnum):
    """The shipped codecs, in the style of torchvision's weight enums::

    codec = CodecWeights.PAPER_0_330.load()
    CodecWeights.PAPER_0_330.info.training["steps"]
    """

    PAPER_0_0983 = ShippedWeights("paper-0.0983", PAPER_RECIPE)
    PAPER_0_330 = ShippedWeights("paper-0.330", PAPER_RECIPE)
    PAPER_0_635 = ShippedWeights("paper-0.635", PAPER_RECIPE)
    SMALL_0_0983 = ShippedWeights("small-0.0983", SMALL_RECIPE)
    SMALL_0_330 = ShippedWeights("small-0.330", SMALL_RECIPE)
    SMALL_0_635 = ShippedWeights("small-0.635", SMALL_RECIPE)

    @property
    def info(self) -> CodecInfo:
        """Configuration and training record, from the file's header alone."""
        return codec_info(self.value.spec)

    def load(self, device: str | torch.device = "cpu") -> Codec:
        return load_codec(self.value.spec, device)


def paper_codec_only(codec: Codec, what: str) -> ConvAutoencoder:
    """`codec`, if it is one of the paper's (symbols, centers, tables); else a clear error."""
    if not isinstance(codec, ConvAutoencoder):
        raise ConfigError(f"{what} works with the paper's codecs, not {codec.name!r}")
    return codec


def knows_codec(name: str) -> bool:
    """Whether a file's codec name alone says which codec to load."""
    return name in list_codecs() or is_compressai_spec(name)


@cache
def cached_codec(spec: str, device: str = "cpu") -> Codec:
    """`load_codec`, once per process: a codec's weights and identity serve many files."""
    return load_codec(spec, device).eval()


def codec_for_file(path: Path, spec: str | None, device: str = "cpu") -> Codec:
    """The codec named by `spec`, else the shipped (or CompressAI zoo) codec named in the
    file's header."""
    from nodecode.bitstream.container import read_ndc

    if spec is None:
        header, _ = read_ndc(path)
        if not knows_codec(header.codec_name):
            raise ConfigError(
                f"{path}: written by codec {header.codec_name!r}, which is not a shipped codec; "
                "pass its checkpoint with --codec"
            )
        spec = header.codec_name
    return cached_codec(spec, device)
