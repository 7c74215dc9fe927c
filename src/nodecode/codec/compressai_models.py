"""CompressAI's image codecs as nodecode codecs (Gupta et al.'s backends).

`compressai:ARCH:QUALITY` names a model of `compressai.zoo` (e.g.
`compressai:bmshj2018-hyperprior:3`); its pretrained weights are read from the torch hub
cache, and downloaded into it only when asked (`download=True`, `NODECODE_DOWNLOAD=1`).
`compressai:ARCH:QUALITY:FILE` loads a local state dict instead (CompressAI's training
checkpoints or a bare state dict), always with `weights_only=True`.

The wrapper keeps CompressAI's contract (`compress` → `{"strings": [[y…], [z…]], "shape"}`,
`decompress`, `update`) and adds what understanding needs: `latent(strings, shape)` gives
ŷ, and σ̂ where the model has a scale hyperprior, without running the synthesis g_s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nodecode.bitstream.rans import BoundedRansCoder
from nodecode.errors import CheckpointError, ConfigError
from nodecode.utils.digest import state_digest
from nodecode.utils.network import DOWNLOAD_ENV, downloads_allowed

PREFIX = "compressai:"
CHECKPOINT_KIND = "compressai-model"  # safetensors written by `train-codec --arch`
# Every CompressAI image model maps an image to ŷ with four stride-2 stages, and those with
# a hyperprior ẑ with two more: inputs are padded to a multiple of 64 (as CompressAI does).
Y_STRIDE = 16
ALIGNMENT = 64
# Architectures whose latent() also returns σ̂: h_s(ẑ) is the scale, or (scale, mean).
_SCALE_FROM_HS = {"bmshj2018-hyperprior": "scales", "mbt2018-mean": "scales+means"}


class _LatentReady(Exception):
    """Raised by the stand-in synthesis transform: ŷ is known, g_s must not run."""


class _Capture(nn.Module):
    def forward(self, y_hat: Tensor) -> Tensor:
        self.y_hat = y_hat
        raise _LatentReady


class CompressAICodec(nn.Module):
    """A `compressai.models.CompressionModel` with nodecode's name, identity and latents."""

    model: Any  # a compressai.models.CompressionModel (CompressAI ships no type hints)

    def __init__(
        self, model: nn.Module, arch: str, quality: int, source: str, name: str | None = None
    ) -> None:
        super().__init__()
        self.model = model.eval()
        for module in model.modules():  # every entropy model decodes with a bounded coder
            if hasattr(module, "entropy_coder"):
                setattr(module, "entropy_coder", BoundedRansCoder())  # noqa: B010
        self.arch, self.quality = arch, quality
        # Files carry the name: a shipped model's own (`hyperprior-photos-1`) says which weights
        # decode them, where `compressai:ARCH:QUALITY` means CompressAI's published ones.
        self.name = name or f"{PREFIX}{arch}:{quality}"
        self.source = source

    @property
    def stride(self) -> int:
        """Image pixels per position of ŷ (z is 4× coarser still)."""
        return Y_STRIDE

    @property
    def latent_channels(self) -> int:
        return int(self.model.M)

    @property
    def has_scales(self) -> bool:
        return self.arch in _SCALE_FROM_HS

    @property
    def has_hyperprior(self) -> bool:
        """A second string, ẑ, at 1/64: every architecture but the factorized prior."""
        return hasattr(self.model, "h_a")

    # -- what a `.ndc` file needs from any codec (codec/files.py) --------------------------
    @property
    def alignment(self) -> int:
        return ALIGNMENT

    @property
    def num_centers(self) -> int:
        """0: no fixed alphabet, the entropy models bring their own tables."""
        return 0

    @property
    def num_strings(self) -> int:
        return 2 if self.has_hyperprior else 1

    def strings_shape(self, latent_size: tuple[int, int]) -> tuple[int, int]:
        """`decompress` takes ẑ's size for hyperprior models, ŷ's for the factorized prior."""
        factor = ALIGNMENT // Y_STRIDE if self.has_hyperprior else 1
        return (latent_size[0] // factor, latent_size[1] // factor)

    def max_positions(self, string_lengths: tuple[int, ...]) -> int:
        """Positions of ŷ the strings can honestly hold: each costs at least, per channel,
        the cheapest symbol of any of the y string's tables (rANS at 16-bit precision)."""
        model = self.model
        coder = model.gaussian_conditional if self.has_hyperprior else model.entropy_bottleneck
        cdfs = coder._quantized_cdf.cpu().to(torch.int64)
        freqs = (cdfs[:, 1:] - cdfs[:, :-1]).max()
        per_symbol = 16 - math.log2(max(int(freqs), 1))
        per_position = max(per_symbol * self.latent_channels, 1e-12)
        return int((8 * string_lengths[0] + 64) / per_position)

    def require_ready(self) -> None:
        """Tables are built when the model is loaded (`update(force=True)`)."""

    def forward(self, x: Tensor) -> dict[str, Any]:
        return self.model(x)

    def update(self, force: bool = False) -> bool:
        return bool(self.model.update(force=force))

    def compress(self, x: Tensor) -> dict[str, Any]:
        return self.model.compress(x)

    def decompress(self, strings: list[list[bytes]], shape: Any) -> dict[str, Tensor]:
        return self.model.decompress(strings, shape)

    @torch.no_grad()
    def latent(self, strings: list[list[bytes]], shape: Any) -> dict[str, Tensor]:
        """{"y_hat": ŷ, "sigma": σ̂ (hyperprior models)}: entropy decoding and h_s only."""
        _, latents = self.recording_latents(lambda: self.model.decompress(strings, shape), False)
        return latents

    @torch.no_grad()
    def analyze(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The decoded images and the latents of images x (padded to the alignment), in one
        forward pass: what `compress` then `decompress` / `latent` give, without the coder
        (eval mode quantizes as the coder does). For encoding datasets."""
        out, latents = self.recording_latents(lambda: self.model(x), True)
        return out["x_hat"].clamp(0.0, 1.0), latents

    def recording_latents(
        self, run: Callable[[], Any], synthesize: bool
    ) -> tuple[Any, dict[str, Tensor]]:
        """`run()` while recording ŷ (g_s's input) and σ̂ (h_s's output); without
        `synthesize` g_s is swapped for a stand-in that stops the call there."""
        seen: dict[str, Tensor] = {}

        def record_scales(module: nn.Module, inputs: Any, output: Tensor) -> None:
            seen.setdefault("scales", output)

        def record_y_hat(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            seen.setdefault("y_hat", inputs[0])

        hooks = []
        if self.has_scales:
            hooks.append(self.model.h_s.register_forward_hook(record_scales))
        capture, synthesis, result = _Capture(), self.model.g_s, None
        if synthesize:
            hooks.append(synthesis.register_forward_pre_hook(record_y_hat))
        else:
            self.model.g_s = capture
        try:
            result = run()
        except _LatentReady:
            seen["y_hat"] = capture.y_hat
        finally:
            self.model.g_s = synthesis
            for hook in hooks:
                hook.remove()
        if "y_hat" not in seen:
            raise RuntimeError(f"{self.name}: the model finished without reaching g_s")
        latents = {"y_hat": seen["y_hat"]}
        if "scales" in seen:
            sigma = seen["scales"]
            if _SCALE_FROM_HS[self.arch] == "scales+means":
                sigma = sigma.chunk(2, dim=1)[0]
            latents["sigma"] = sigma
        return result, latents

    def identity(self) -> bytes:
        """16-byte digest of architecture, quality and every weight and table."""
        return state_digest(self.model, self.name.encode()).digest()[:16]


def architectures() -> list[str]:
    from compressai.zoo.image import model_architectures

    return sorted(k for k in model_architectures if "-" in k)


def parse_spec(spec: str) -> tuple[str, int, Path | None]:
    """`compressai:ARCH:QUALITY[:FILE]` → (arch, quality, file)."""
    parts = spec.removeprefix(PREFIX).split(":", 2)
    usage = f"{PREFIX}ARCH:QUALITY[:STATE_DICT_FILE], ARCH one of {', '.join(architectures())}"
    if len(parts) < 2 or parts[0] not in architectures() or not parts[1].isdigit():
        raise ConfigError(f"codec {spec!r}: expected {usage}")
    from compressai.zoo.image import cfgs

    quality = int(parts[1])
    if quality not in cfgs[parts[0]]:
        raise ConfigError(
            f"codec {spec!r}: {parts[0]} has qualities {min(cfgs[parts[0]])}…{max(cfgs[parts[0]])}"
        )
    return parts[0], quality, Path(parts[2]) if len(parts) == 3 else None


def load_compressai_codec(
    spec: str,
    device: str | torch.device = "cpu",
    download: bool | None = None,
    name: str | None = None,
) -> CompressAICodec:
    """A CompressAI model by name, from a local state dict or the torch hub cache; `name`
    replaces the spec in the files it writes (shipped models)."""
    arch, quality, path = parse_spec(spec)
    if path is None:
        path = _cached_weights(spec, arch, quality, download)
    state = _read_state_dict(path, arch, quality)
    from compressai.zoo.image import model_architectures
    from compressai.zoo.pretrained import load_pretrained

    try:
        model = model_architectures[arch].from_state_dict(load_pretrained(state))
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a {arch} state dict ({first})") from None
    model.update(force=True)  # tables from the loaded weights (a state dict may lack them)
    return CompressAICodec(model.to(device), arch, quality, str(path), name)


def _cached_weights(spec: str, arch: str, quality: int, download: bool | None) -> Path:
    from compressai.zoo.image import model_urls

    try:
        url = model_urls[arch]["mse"][quality]
    except KeyError:
        raise ConfigError(
            f"codec {spec!r}: CompressAI publishes no weights for it; train one or pass "
            f"{spec}:STATE_DICT_FILE"
        ) from None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return cached
    if not downloads_allowed(download):
        raise ConfigError(
            f"codec {spec!r}: weights not in the torch hub cache ({cached}); add --download "
            f"(or set {DOWNLOAD_ENV}=1) to fetch them from {url}, or pass {spec}:STATE_DICT_FILE"
        )
    try:
        torch.hub.download_url_to_file(url, str(cached))
    except OSError as e:
        raise ConfigError(f"codec {spec!r}: download of {url} failed ({e})") from None
    return cached


def _read_state_dict(path: Path, arch: str, quality: int) -> dict[str, Tensor]:
    """A state dict (CompressAI's {"state_dict": …} checkpoints too, or nodecode's trained
    safetensors), never unpickling code."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such state-dict file")
    if path.suffix == ".safetensors":
        from nodecode.utils.checkpoint import load_tensors

        tensors, meta = load_tensors(path, CHECKPOINT_KIND)
        if (meta.get("arch"), meta.get("quality")) != (arch, quality):
            raise CheckpointError(
                f"{path}: holds {meta.get('arch')} at quality {meta.get('quality')}, "
                f"not {arch} at {quality}"
            )
        return tensors
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many types on bad input
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a readable weights-only state dict ({first})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: holds no state dict of tensors")
    return obj


def is_compressai_spec(spec: str | os.PathLike) -> bool:
    return str(spec).startswith(PREFIX)
