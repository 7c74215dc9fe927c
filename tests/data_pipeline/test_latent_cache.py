import pytest
import torch
from torch.utils.data import TensorDataset

from nodecode.data.latent_cache import LatentCache, LatentCacheError, encode_dataset
from nodecode.errors import CodecMismatchError, ConfigError


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


def test_a_cache_without_decoded_images_decodes_the_same_images_on_the_fly(
    tmp_path, tiny_codec, images
):
    """The decoded-RGB networks see the images a full cache would have stored, decoded from
    the latents batch by batch, at a fraction of the disk."""
    from nodecode.codec.checkpoint import save_codec

    x, y = images
    save_codec(tiny_codec, tmp_path / "codec.safetensors")
    full, slim = tmp_path / "full", tmp_path / "slim"
    encode_dataset(tiny_codec, TensorDataset(x, y), full, "classification", "train")
    spec = str(tmp_path / "codec.safetensors")
    paths = encode_dataset(
        tiny_codec, TensorDataset(x, y), slim, "classification", "train", 4, (), False, spec
    )
    stored = LatentCache(full, "classification", "train", "decoded")
    fly = LatentCache(slim, "classification", "train", "decoded")
    assert not stored.decodes_on_the_fly and fly.decodes_on_the_fly
    assert (fly.image_size, fly.in_channels, fly.codec_id) == (40, 3, stored.codec_id)
    assert sum(p.stat().st_size for p in paths) < 0.5 * sum(
        p.stat().st_size for p in full.glob("*.safetensors")
    )
    latents = torch.stack([fly[i][0] for i in range(len(fly))])
    assert latents.shape == (10, 4, 4, 5)  # the items are ẑ
    decoded = fly.decoder()(latents)
    expected = torch.stack([stored[i][0] for i in range(len(stored))])
    # Same images; at most a rounding level apart where the convolutions sum differently.
    assert decoded.shape == expected.shape == (10, 3, 32, 40)
    assert (decoded - expected).abs().max() <= 1 / 255 + 1e-6
    assert (decoded == expected).float().mean() > 0.99


def test_decoding_on_the_fly_refuses_another_codec_and_a_cache_naming_none(
    tmp_path, tiny_codec, images
):
    from nodecode.codec.checkpoint import save_codec
    from tests.conftest import make_tiny_codec

    path = tmp_path / "codec.safetensors"
    save_codec(tiny_codec, path)
    data = TensorDataset(*images)
    encode_dataset(tiny_codec, data, tmp_path / "c", "classification", "train", 4, (), False, path)
    other = make_tiny_codec()
    with torch.no_grad():
        next(other.g_s.parameters()).add_(1.0)
    save_codec(other, path)  # the file now holds another codec
    cache = LatentCache(tmp_path / "c", "classification", "train", "decoded")
    with pytest.raises(CodecMismatchError, match="not the one that wrote these latents"):
        cache.decoder()
    with pytest.raises(ConfigError, match="must name its codec"):
        encode_dataset(tiny_codec, data, tmp_path / "d", "classification", "train", 4, (), False)


def test_masks_are_stored_and_held_as_bytes_and_read_as_class_indexes(tmp_path, tiny_codec):
    x = torch.rand(3, 3, 16, 16)
    masks = torch.randint(0, 11, (3, 16, 16))
    masks[0, 0, 0] = 255  # ignored pixels survive
    encode_dataset(tiny_codec, TensorDataset(x, masks), tmp_path, "segmentation", "train")
    cache = LatentCache(tmp_path, "segmentation", "train")
    assert cache.targets.dtype == torch.uint8  # 1/8 of the RAM of int64 masks
    _, mask = cache[0]
    assert mask.dtype == torch.int64 and torch.equal(mask, masks[0])
    with pytest.raises(ConfigError, match="values 0-255"):
        encode_dataset(tiny_codec, TensorDataset(x, masks * 100), tmp_path, "segmentation", "test")


def test_a_capped_encode_stores_what_the_capped_files_hold(tmp_path, spread_codec, photo):
    """`encode-dataset --bpp`: one codec's latents at another codec's rate, exactly as real
    files capped at that rate would give them to a network."""
    from nodecode.codec.files import compressed_bytes, symbols_from_bytes

    crops = torch.stack([photo[:, i : i + 48, i : i + 48] for i in (0, 16, 32, 48)])
    plain = [8 * len(compressed_bytes(spread_codec, c)) / 48**2 for c in crops]
    cap = 0.8 * sum(plain) / len(plain)
    data = TensorDataset(crops, torch.arange(4))
    encode_dataset(spread_codec, data, tmp_path, "classification", "test", bpp=cap)
    cache = LatentCache(tmp_path, "classification", "test", "latent")
    assert cache.shards[0].meta["bpp_cap"] == cap
    files = [compressed_bytes(spread_codec, c, bpp=cap) for c in crops]
    assert all(8 * len(f) / 48**2 <= cap for f in files)
    expected = torch.stack([symbols_from_bytes(spread_codec, f)[1] for f in files])
    assert torch.equal(cache.tensor("symbols").long(), expected)
    assert not torch.equal(expected, spread_codec.encode(crops))  # the cap cut something


def test_a_capped_encode_needs_a_paper_codec(tmp_path):
    from nodecode.codec.zoo import load_codec

    hyperprior = load_codec("hyperprior-photos-1")
    data = TensorDataset(torch.rand(2, 3, 64, 64), torch.arange(2))
    with pytest.raises(ConfigError, match="paper"):
        encode_dataset(hyperprior, data, tmp_path, "classification", "test", bpp=0.5)
