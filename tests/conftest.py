"""Shared fixtures: a tiny codec with fitted tables, and small natural test images."""

from __future__ import annotations

import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

from nodecode.bitstream import count_symbols  # noqa: E402
from nodecode.codec import CodecConfig, ConvAutoencoder  # noqa: E402
from nodecode.data.images import pil_to_tensor  # noqa: E402
from nodecode.data.photos import load_photo  # noqa: E402

TINY = CodecConfig(latent_channels=4, width=0.125, num_centers=6)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow (a minute or more each) run first: under `make test` (pytest -n
    auto) they start at once, spread over the workers, instead of ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def make_tiny_codec(seed: int = 0, name: str = "tiny") -> ConvAutoencoder:
    """A small random codec whose tables are fitted on natural crops, as train-codec does."""
    torch.manual_seed(seed)
    codec = ConvAutoencoder(TINY, name=name).eval()
    photo = pil_to_tensor(load_photo("chelsea"))[:, :128, :128]
    codec.update(count_symbols(codec.encode(photo.unsqueeze(0)), TINY.num_centers))
    return codec


@pytest.fixture
def tiny_codec() -> ConvAutoencoder:
    return make_tiny_codec()


@pytest.fixture
def spread_codec() -> ConvAutoencoder:
    """The tiny codec with its latent spread over the centers (a random encoder's sits near
    one), tables refitted: rate has room to move, as in a trained codec."""
    codec = make_tiny_codec()
    with torch.no_grad():
        codec.g_a[-1].weight.mul_(40)
        codec.g_a[-1].bias.zero_()
    fit = pil_to_tensor(load_photo("chelsea"))[:, :128, :128]
    codec.update(count_symbols(codec.encode(fit[None]), codec.num_centers))
    return codec


@pytest.fixture(scope="session")
def photo() -> torch.Tensor:
    """A held-out natural photo, cropped to an odd size that is not a multiple of 8."""
    return pil_to_tensor(load_photo("astronaut"))[:, 100:197, 150:269]


@pytest.fixture
def compiled_modules(monkeypatch):
    """What `--compile` would compile, recorded and run eagerly instead (compiling takes
    seconds a network; tests/models/test_inference.py compiles for real)."""
    import nodecode.evaluate.bench as bench
    import nodecode.models.inference as inference

    recorded = []

    class Recording(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module
            recorded.append(module)

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    monkeypatch.setattr(inference, "FrozenCompiled", Recording)
    monkeypatch.setattr(bench, "FrozenCompiled", Recording)
    return recorded
