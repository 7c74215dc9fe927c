import torch

from nodecode.codec import load_codec_checkpoint, rate_distortion_loss
from nodecode.data.crops import RandomCrops, training_images
from nodecode.train.codec import CodecTrainConfig, train_codec
from nodecode.train.state import load_train_state

TINY_RUN = dict(
    op="0.330",
    width=0.25,
    crop=32,
    batch_size=8,
    lr=3e-3,
    table_batches=2,
    checkpoint_every=2,
    log_every=2,
    name="run",
)


def fixed_batch() -> torch.Tensor:
    torch.manual_seed(123)
    dataset = RandomCrops(training_images("skimage:train"), 32, length=16)
    return torch.stack([dataset[i] for i in range(16)])


def test_short_training_lowers_the_loss(tmp_path):
    x = fixed_batch()
    losses = []
    for steps in (0, 60):
        config = CodecTrainConfig(**(TINY_RUN | {"checkpoint_every": 1000}), max_steps=steps)
        codec = train_codec(config, tmp_path / f"codec{steps}.safetensors")
        codec.train()
        with torch.no_grad():
            losses.append(rate_distortion_loss(x, codec(x), codec.config)[0].item())
    assert losses[1] < 0.6 * losses[0]
    trained = load_codec_checkpoint(tmp_path / "codec60.safetensors")
    assert trained.ready and trained.name == "run"
    log = (tmp_path / "codec60.log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,mse,entropy_bits,bpp_estimate")


def test_resume_continues_from_the_same_step_with_the_same_state(tmp_path):
    straight = train_codec(CodecTrainConfig(**TINY_RUN, max_steps=4), tmp_path / "a.safetensors")
    train_codec(CodecTrainConfig(**TINY_RUN, max_steps=2), tmp_path / "b.safetensors")
    resumed = train_codec(
        CodecTrainConfig(**TINY_RUN, max_steps=4), tmp_path / "b.safetensors", resume=True
    )
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    model = type(straight)(straight.config)
    optimizer = torch.optim.Adam(model.parameters())
    step, _ = load_train_state(tmp_path / "b.state.safetensors", model, optimizer)
    assert step == 4


def test_resume_refuses_a_different_configuration(tmp_path):
    import pytest

    from nodecode.errors import CheckpointError

    train_codec(CodecTrainConfig(**TINY_RUN, max_steps=2), tmp_path / "c.safetensors")
    changed = CodecTrainConfig(**(TINY_RUN | {"lr": 1e-4}), max_steps=4)
    with pytest.raises(CheckpointError, match="different configuration"):
        train_codec(changed, tmp_path / "c.safetensors", resume=True)
