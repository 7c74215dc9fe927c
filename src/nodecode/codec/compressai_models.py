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

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nodecode.errors import CheckpointError, ConfigError
from nodecode.utils.digest import state_digest
from nodecode.utils.network import DOWNLOAD_ENV, downloads_allowed

PREFIX = "compressai:"
# Every CompressAI image model maps an image to ŷ with four stride-2 stages.
Y_STRIDE = 16
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

    def __init__(self, model: nn.Module, arch: str, quality: int, source: str) -> None:
        super().__init__()
        self.model = model.eval()
        self.arch, self.quality = arch, quality
        self.name = f"{PREFIX}{arch}:{quality}"
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
        capture, scales = _Capture(), []
        hook = None
        if self.has_scales:
            hook = self.model.h_s.register_forward_hook(lambda m, i, out: scales.append(out))
        synthesis, self.model.g_s = self.model.g_s, capture
        try:
            self.model.decompress(strings, shape)
        except _LatentReady:
            pass
        finally:
            self.model.g_s = synthesis
            if hook is not None:
                hook.remove()
        if not hasattr(capture, "y_hat"):
            raise RuntimeError(f"{self.name}: decompress finished without reaching g_s")
        out = {"y_hat": capture.y_hat}
        if scales:
            sigma = scales[0]
            if _SCALE_FROM_HS[self.arch] == "scales+means":
                sigma = sigma.chunk(2, dim=1)[0]
            out["sigma"] = sigma
        return out

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
    spec: str, device: str | torch.device = "cpu", download: bool | None = None
) -> CompressAICodec:
    """A CompressAI model by name, from a local state dict or the torch hub cache."""
    arch, quality, path = parse_spec(spec)
    if path is None:
        path = _cached_weights(spec, arch, quality, download)
    state = _read_state_dict(path)
    from compressai.zoo.image import model_architectures
    from compressai.zoo.pretrained import load_pretrained

    try:
        model = model_architectures[arch].from_state_dict(load_pretrained(state))
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: not a {arch} state dict ({first})") from None
    model.update(force=True)  # tables from the loaded weights (a state dict may lack them)
    return CompressAICodec(model.to(device), arch, quality, str(path))


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
            f"codec {spec!r}: weights not in the torch hub cache ({cached}); set "
            f"{DOWNLOAD_ENV}=1 to download them from {url}, or pass {spec}:STATE_DICT_FILE"
        )
    try:
        torch.hub.download_url_to_file(url, str(cached))
    except OSError as e:
        raise ConfigError(f"codec {spec!r}: download of {url} failed ({e})") from None
    return cached


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """A state dict (or CompressAI's {"state_dict": …} checkpoint), never unpickling code."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such state-dict file")
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
