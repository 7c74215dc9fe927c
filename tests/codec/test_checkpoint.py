import json

import pytest
from safetensors.torch import save_file

from nodecode.codec import list_codecs, load_codec, load_codec_checkpoint, save_codec
from nodecode.errors import CheckpointError, ConfigError
from nodecode.utils.checkpoint import save_tensors


def test_save_load_round_trip_keeps_identity(tmp_path, tiny_codec):
    path = tmp_path / "codec.safetensors"
    save_codec(tiny_codec, path)
    loaded = load_codec_checkpoint(path)
    assert loaded.identity() == tiny_codec.identity()
    assert loaded.name == "tiny" and loaded.config == tiny_codec.config
    assert load_codec(str(path)).identity() == tiny_codec.identity()


def test_corrupted_checkpoint_is_a_clear_error(tmp_path, tiny_codec):
    path = tmp_path / "codec.safetensors"
    save_codec(tiny_codec, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"codec\.safetensors"):
        load_codec_checkpoint(path)


def test_foreign_safetensors_and_wrong_kind_are_refused(tmp_path, tiny_codec):
    foreign = tmp_path / "foreign.safetensors"
    save_file(tiny_codec.state_dict(), str(foreign))
    with pytest.raises(CheckpointError, match="no nodecode header"):
        load_codec_checkpoint(foreign)
    other = tmp_path / "other.safetensors"
    save_tensors(other, tiny_codec.state_dict(), "classifier", {})
    with pytest.raises(CheckpointError, match="is a 'classifier' checkpoint"):
        load_codec_checkpoint(other)


def test_config_must_match_weights(tmp_path, tiny_codec):
    path = tmp_path / "codec.safetensors"
    config = json.loads(tiny_codec.config.to_json()) | {"latent_channels": 8}
    save_tensors(
        path, tiny_codec.state_dict(), "codec", {"name": "x", "config": json.dumps(config)}
    )
    with pytest.raises(CheckpointError, match="weights do not match its header"):
        load_codec_checkpoint(path)
    config["surprise"] = 1
    save_tensors(
        path, tiny_codec.state_dict(), "codec", {"name": "x", "config": json.dumps(config)}
    )
    with pytest.raises(CheckpointError, match="unknown codec config keys"):
        load_codec_checkpoint(path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"width": 1e6}, "width 1000000.0 is outside"),
        ({"width": float("nan")}, "not a finite number"),
        ({"width": "wide"}, "not a finite number"),
        ({"latent_channels": 200_000}, "invalid codec config"),
        ({"latent_channels": 4.5}, "not an integer"),
        ({"num_centers": True}, "not an integer"),
        ({"beta": float("inf")}, "not a finite number"),
        ({"upsampling": 3}, "not a string"),
    ],
)
def test_absurd_configs_are_refused_before_any_allocation(tmp_path, tiny_codec, change, message):
    path = tmp_path / "codec.safetensors"
    config = json.loads(tiny_codec.config.to_json()) | change
    meta = {"name": "x", "config": json.dumps(config)}
    save_tensors(path, tiny_codec.state_dict(), "codec", meta)
    with pytest.raises(CheckpointError, match=message):
        load_codec_checkpoint(path)


def refuses_a_zero_frequency(codec, tables: str, row: int, path) -> None:
    """A checkpoint of `codec` whose table `row` of `tables` gives a symbol no frequency
    must not load: the entropy coder would divide by zero (SIGFPE) on compress."""
    state = codec.state_dict()
    state[tables] = state[tables].clone()
    state[tables][row, 2] = state[tables][row, 1]
    meta = {"name": "x", "config": codec.config.to_json()}
    save_tensors(path, state, "codec", meta)
    with pytest.raises(CheckpointError, match="zero .or negative. frequency"):
        load_codec_checkpoint(path)


def test_tables_with_a_zero_frequency_are_refused(tmp_path, tiny_codec):
    refuses_a_zero_frequency(tiny_codec, "cdfs", 1, tmp_path / "codec.safetensors")


def test_registry_names_and_unknown_names():
    untrained = {"paper-0.0983-untrained", "paper-0.330-untrained", "paper-0.635-untrained"}
    assert untrained <= set(list_codecs())
    assert load_codec("paper-0.330-untrained").config.latent_channels == 16
    with pytest.raises(ConfigError, match="unknown codec 'nope'"):
        load_codec("nope")


def test_context_codecs_round_trip_and_their_tables_are_checked(tmp_path):
    from tests.codec.test_autoencoder import make_context_codec

    codec = make_context_codec()
    save_codec(codec, tmp_path / "ctx.safetensors")
    assert load_codec_checkpoint(tmp_path / "ctx.safetensors").identity() == codec.identity()
    refuses_a_zero_frequency(codec, "context_cdfs", 5, tmp_path / "bad.safetensors")
