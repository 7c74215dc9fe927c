import pytest
import torch
from torch.utils.data import TensorDataset

from nodecode.data.latent_cache import LatentCache, LatentCacheError, encode_dataset


@pytest.fixture
def images():
    torch.manual_seed(0)
    return torch.rand(10, 3, 32, 40), torch.arange(10)


def test_latent_cache_round_trips_exactly(tmp_path, tiny_codec, images):
    x, y = images
    encode_dataset(
        tiny_codec, TensorDataset(x, y), tmp_path, "classification", "train", batch_size=4
    )
    cache = LatentCache(tmp_path, "classification", "train", "latent")
    symbols = tiny_codec.encode(x)
    stored = cache.tensor("symbols")
    assert torch.equal(stored.long(), symbols) and stored.dtype == torch.uint8
    assert torch.equal(cache.targets, y)
    latent, label = cache[3]
    assert torch.equal(latent, tiny_codec.dequantize(symbols[3])) and label == 3
    decoded = LatentCache(tmp_path, "classification", "train", "decoded")
    assert decoded.in_channels == 3 and cache.in_channels == 4
    expected = tiny_codec.decode(symbols[3:4], (32, 40))[0].mul(255).round() / 255
    assert torch.allclose(decoded[3][0], expected)
    assert cache.codec_id == tiny_codec.identity().hex()


def test_missing_and_corrupt_shards_are_clear_errors(tmp_path, tiny_codec, images):
    with pytest.raises(LatentCacheError, match="nodecode encode-dataset"):
        LatentCache(tmp_path, "classification", "train")
    paths = encode_dataset(tiny_codec, TensorDataset(*images), tmp_path, "classification", "test")
    paths[0].write_bytes(paths[0].read_bytes()[:-50])
    with pytest.raises(LatentCacheError, match="corrupt latent shard"):
        LatentCache(tmp_path, "classification", "test")


def test_items_are_read_from_the_shards_not_held_in_memory(
    tmp_path, tiny_codec, images, monkeypatch
):
    """Only the targets are loaded whole; latents and decoded images are read per item from
    the memory-mapped shards, so RAM stays bounded on datasets larger than it."""
    from nodecode.data import latent_cache

    x, y = images
    monkeypatch.setattr(latent_cache, "SHARD_SIZE", 4)
    encode_dataset(tiny_codec, TensorDataset(x, y), tmp_path, "classification", "train", 4)
    loaded = []
    original = latent_cache._Shard.read_all
    monkeypatch.setattr(
        latent_cache._Shard, "read_all", lambda s, n: loaded.append(n) or original(s, n)
    )
    for kind in ("latent", "decoded"):
        cache = LatentCache(tmp_path, "classification", "train", kind)
        items = [cache[i] for i in range(len(cache))]  # across all three shards
        assert [int(t) for _, t in items] == y.tolist()
    assert set(loaded) == {"targets"}
    assert len(cache.shards) == 3 and cache.image_size == 40
    with pytest.raises(IndexError):
        cache[len(cache)]
