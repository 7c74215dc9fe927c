"""Crops on the latent grid: latents, decoded images and masks cut at the same places."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from nodecode.data.augment import GridCrop
from nodecode.errors import ConfigError


@pytest.fixture
def scene():
    """An image, a stand-in latent (its 8x8 block means: one position per 8 pixels) and
    a mask, so a crop of each can be checked against the others."""
    torch.manual_seed(0)
    image = torch.rand(2, 3, 64, 64)
    return image, F.avg_pool2d(image, 8), (image[:, 0] * 10).long()


def test_random_crops_cut_latents_images_and_masks_at_the_same_places(scene):
    image, latent, mask = scene
    crops = {
        "image": GridCrop(TensorDataset(image, mask), 48, 8, latents=False, train=True),
        "latent": GridCrop(TensorDataset(latent, mask), 48, 8, latents=True, train=True),
    }
    seen = set()
    for seed in range(8):
        items = {}
        for kind, dataset in crops.items():
            torch.manual_seed(seed)  # the same draw for both
            items[kind] = dataset[1]
        (x, m), (z, m2) = items["image"], items["latent"]
        assert x.shape == (3, 48, 48) and z.shape == (3, 6, 6) and m.shape == (48, 48)
        assert torch.allclose(F.avg_pool2d(x, 8), z) and torch.equal(m, m2)
        # The mask is the image's own, cut where the image was.
        assert torch.equal(m, (x[0] * 10).long())
        seen.add(tuple(torch.nonzero(image[1, 0] == x[0, 0, 0])[0].tolist()))
    assert len(seen) > 1  # offsets vary, on the grid
    assert all(y % 8 == 0 and x % 8 == 0 for y, x in seen)


def test_evaluation_takes_the_centre_and_bad_sizes_are_clear_errors(scene):
    image, latent, mask = scene
    x, m = GridCrop(TensorDataset(image, mask), 48, 8, latents=False, train=False)[0]
    assert torch.equal(x, image[0, :, 8:56, 8:56]) and torch.equal(m, mask[0, 8:56, 8:56])
    with pytest.raises(ConfigError, match="not a multiple of the latent stride"):
        GridCrop(TensorDataset(image, mask), 50, 8, latents=False, train=True)
    with pytest.raises(ConfigError, match="larger than the encoded images"):
        GridCrop(TensorDataset(latent, mask), 72, 8, latents=True, train=False)[0]
