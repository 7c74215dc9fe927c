"""A CompressAI model end to end: `.ndc` files (version 3, two strings), the CLI verbs,
inference on ŷ / σ̂ that never runs g_s, 16× segmentation masks at image size, and
latent caches of ŷ and σ̂ for training."""

import json
from dataclasses import replace

import pytest
import torch
from torch.utils.data import TensorDataset

from nodecode.bitstream.container import VERSION, read_ndc
from nodecode.cli.main import main
from nodecode.codec.compressai_models import load_compressai_codec
from nodecode.codec.files import compress_image, decompress_file, read_latents
from nodecode.data.images import load_image, save_image
from nodecode.data.latent_cache import LatentCache, encode_dataset
from nodecode.errors import BitstreamError, ConfigError
from nodecode.inference import predict_files
from nodecode.models import create
from nodecode.models.checkpoint import TaskModelInfo, load_task_model, write_task_model

ARCH = "bmshj2018-hyperprior"
QUALITY = 1  # N=128, M=192: the smallest networks
# The shipped hyperprior on a 128² crop of a test photo: 25.8 dB at 0.262 bpp when shipped
# (untrained weights: 6.9 dB); a margin for other machines' arithmetic.
SHIPPED_HYPERPRIOR_PSNR, SHIPPED_HYPERPRIOR_BPP = 23.0, 0.4


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from compressai.zoo.image import _load_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / f"{ARCH}.pth"
    torch.save(_load_model(ARCH, "mse", QUALITY).state_dict(), path)
    return f"compressai:{ARCH}:{QUALITY}:{path}"


@pytest.fixture(scope="module")
def codec(spec):
    return load_compressai_codec(spec).eval()


@pytest.fixture
def image():
    return torch.rand(3, 70, 90, generator=torch.Generator().manual_seed(1))


def count_calls(module: torch.nn.Module) -> list:
    calls = []
    module.register_forward_hook(lambda m, i, o: calls.append(1))
    return calls


def test_a_file_holds_both_strings_and_round_trips(tmp_path, codec, image):
    info = compress_image(codec, image, tmp_path / "x.ndc")
    header, payload = read_ndc(tmp_path / "x.ndc")
    assert header.version == VERSION and (header.stride, header.align) == (16, 64)
    assert header.latent_shape == (192, 8, 8)  # 70x90 padded to 128x128, at 1/16
    assert len(header.lengths) == 2 and sum(header.lengths) == len(payload)
    assert info.bpp == pytest.approx(8 * (tmp_path / "x.ndc").stat().st_size / (70 * 90))
    x = torch.nn.functional.pad(image[None], (0, 38, 0, 58), mode="replicate")
    with torch.no_grad():
        out = codec.compress(x)
        expected = codec.decompress(out["strings"], out["shape"])["x_hat"][0, :, :70, :90]
    assert header.split(payload) == [s[0] for s in out["strings"]]
    _, decoded = decompress_file(codec, tmp_path / "x.ndc")
    offset = torch.tensor(header.color_offset) / 1020
    assert decoded.shape == image.shape
    assert torch.allclose(decoded, (expected.clamp(0, 1) + offset[:, None, None]).clamp(0, 1))


def test_latents_of_a_file_never_run_g_s(tmp_path, codec, image):
    compress_image(codec, image, tmp_path / "x.ndc")
    g_s_calls = count_calls(codec.model.g_s)
    _, latents = read_latents(codec, tmp_path / "x.ndc")
    assert not g_s_calls
    assert latents["y_hat"].shape == latents["sigma"].shape == (1, 192, 8, 8)
    x = torch.nn.functional.pad(image[None], (0, 38, 0, 58), mode="replicate")
    _, analyzed = codec.analyze(x)  # the cache's path gives the same latents
    assert torch.equal(analyzed["y_hat"], latents["y_hat"])
    assert torch.allclose(analyzed["sigma"], latents["sigma"])


def test_a_file_of_another_geometry_or_a_cut_string_is_refused(tmp_path, codec, image):

    from tests.bitstream.test_container import forge

    compress_image(codec, image, tmp_path / "x.ndc")
    header, payload = read_ndc(tmp_path / "x.ndc")
    lies = {
        "stride": replace(header, stride=8, latent_shape=(192, 16, 16)),
        "strings": replace(header, string_lengths=(header.payload_length,)),
    }
    for name, lie in lies.items():
        (tmp_path / f"{name}.ndc").write_bytes(forge(lie, payload))
        with pytest.raises(BitstreamError, match="but codec 'compressai:bmshj2018-hyperprior:1'"):
            read_latents(codec, tmp_path / f"{name}.ndc")
    bomb = replace(header, image_size=(4032, 4032), latent_shape=(192, 252, 252))
    (tmp_path / "bomb.ndc").write_bytes(forge(bomb, payload))
    with pytest.raises(BitstreamError, match="can hold at most"):
        read_latents(codec, tmp_path / "bomb.ndc")


def test_cli_verbs_on_a_compressai_codec(tmp_path, spec, image, capsys):
    save_image(image, tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "--codec", spec, "-o", str(tmp_path)]) == 0
    ndc = tmp_path / "in.ndc"
    assert main(["info", str(ndc), "--codec", spec, "--json", "-"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out[out.index("{") :])
    assert info["latent_shape"] == "192x8x8" and set(info["latents"]) == {"y_hat", "sigma"}
    assert main(["decompress", str(ndc), "--codec", spec, "-o", str(tmp_path / "dec")]) == 0
    assert load_image(tmp_path / "dec" / "in.png").shape == (3, 70, 90)
    # The file names a zoo model whose weights this machine lacks: one clear line.
    assert main(["decompress", str(ndc), "-o", str(tmp_path / "dec2")]) == 1
    assert "NODECODE_DOWNLOAD=1" in capsys.readouterr().err


def test_eval_codec_refuses_rate_control_for_a_compressai_codec(tmp_path, spec, image, capsys):
    save_image(image, tmp_path / "images" / "in.png")
    argv = ["eval-codec", "--codec", spec, "--images", str(tmp_path / "images"), "--bpp", "0.3"]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 1
    assert "rate control (--bpp) works with the paper's codecs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_shipped_hyperprior_works_offline_by_name(tmp_path, capsys):
    """`hyperprior-photos-1` (trained here, stored in half precision) needs no download: its
    files name it, decode without --codec, and it has really learned to code a photo it
    never saw in training."""
    from nodecode.data.images import pil_to_tensor
    from nodecode.data.photos import load_photo

    photo = pil_to_tensor(load_photo("astronaut"))[:, 96:224, 160:288]  # a test photo
    save_image(photo, tmp_path / "in.png")
    argv = ["compress", str(tmp_path / "in.png"), "--codec", "hyperprior-photos-1"]
    assert main([*argv, "-o", str(tmp_path)]) == 0
    header, _ = read_ndc(tmp_path / "in.ndc")
    assert header.codec_name == "hyperprior-photos-1" and len(header.lengths) == 2
    assert main(["decompress", str(tmp_path / "in.ndc"), "-o", str(tmp_path / "dec")]) == 0
    decoded = load_image(tmp_path / "dec" / "in.png")
    psnr = -10 * torch.log10(torch.mean((decoded - load_image(tmp_path / "in.png")) ** 2))
    bpp = 8 * (tmp_path / "in.ndc").stat().st_size / (128 * 128)
    assert psnr > SHIPPED_HYPERPRIOR_PSNR and bpp < SHIPPED_HYPERPRIOR_BPP, (psnr, bpp)
    capsys.readouterr()


def task_model(tmp_path, codec, task: str, kind: str, classes: int = 3):
    name = "cresnet39" if task == "classification" else "cresnet39-d"
    branches = 2 if kind == "y+sigma" else 1
    torch.manual_seed(0)
    model = create(
        name, num_classes=classes, in_channels=192, width=0.125, branches=branches, latent_stride=16
    )
    meta = {"model": name, "task": task, "input": kind, "num_classes": classes}
    meta |= {"in_channels": 192, "width": 0.125, "classes": [], "codec": codec.name}
    meta["codec_id"] = codec.identity().hex()
    write_task_model(tmp_path / f"{name}.safetensors", model, TaskModelInfo(**meta))
    return load_task_model(tmp_path / f"{name}.safetensors")


def test_a_string_that_escapes_past_its_end_is_a_clean_error(tmp_path, codec, image):
    """Escapes asking for more raw chunks than the string holds: CompressAI's own decoder
    reads on past the buffer; nodecode's bounded one stops with the file's name."""
    from tests.bitstream.test_container import forge

    compress_image(codec, image, tmp_path / "x.ndc")
    header, payload = read_ndc(tmp_path / "x.ndc")
    y, z = header.string_lengths  # this untrained model's y string is only its 8-byte flush
    for name, forged in {
        "escapes": payload[: y + 8] + b"\xff" * (z - 8),  # in the z string
        "padded": payload + bytes(4),
    }.items():
        lengths = (y, z + 4) if name == "padded" else header.string_lengths
        lie = replace(header, string_lengths=lengths, payload_length=len(forged))
        (tmp_path / f"{name}.ndc").write_bytes(forge(lie, forged))
        with pytest.raises(BitstreamError, match=f"{name}.ndc: payload is corrupted"):
            read_latents(codec, tmp_path / f"{name}.ndc")


@pytest.mark.parametrize("kind", ["y", "sigma", "y+sigma"])
def test_classify_on_a_hyperprior_file_never_runs_g_s(tmp_path, codec, image, kind):
    compress_image(codec, image, tmp_path / "x.ndc")
    model, meta = task_model(tmp_path, codec, "classification", kind)
    assert meta.branches == (2 if kind == "y+sigma" else 1) and meta.latent_stride == 16
    g_s_calls = count_calls(codec.model.g_s)
    [(_, _, probs)] = predict_files(model, meta, [(tmp_path / "x.ndc", codec)])
    assert not g_s_calls and probs.shape == (3,) and probs.sum() == pytest.approx(1.0)


def test_segment_on_a_16x_latent_gives_a_mask_of_the_image_size(tmp_path, codec, image):
    compress_image(codec, image, tmp_path / "x.ndc")
    model, meta = task_model(tmp_path, codec, "segmentation", "y")
    [(_, header, probs)] = predict_files(model, meta, [(tmp_path / "x.ndc", codec)])
    assert header.image_size == (70, 90) and probs.shape == (3, 70, 90)


def test_a_sigma_model_on_a_codec_without_sigma_is_refused(tmp_path, codec, image):
    from compressai.zoo.image import _load_model

    path = tmp_path / "factorized.pth"
    torch.save(_load_model("bmshj2018-factorized", "mse", QUALITY).state_dict(), path)
    factorized = load_compressai_codec(f"compressai:bmshj2018-factorized:{QUALITY}:{path}")
    compress_image(factorized, image, tmp_path / "f.ndc")
    model, meta = task_model(tmp_path, codec, "classification", "sigma")
    with pytest.raises(ConfigError, match="has none"):
        list(predict_files(model, meta, [(tmp_path / "f.ndc", factorized)]))


def test_latent_caches_hold_y_and_sigma_for_every_input(tmp_path, codec):
    images = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    data = TensorDataset(images, torch.tensor([0, 1, 2, 0, 1]))
    encode_dataset(codec, data, tmp_path, "classification", "train", batch_size=2)
    for kind, channels in (("y", 192), ("sigma", 192), ("y+sigma", 384), ("decoded", 3)):
        cache = LatentCache(tmp_path, "classification", "train", kind)
        x, target = cache[3]
        assert cache.latent_stride == 16 and len(cache) == 5 and int(target) == 0
        assert x.shape == ((channels, 4, 4) if kind != "decoded" else (3, 64, 64))
        assert cache.in_channels == (3 if kind == "decoded" else 192)


def test_a_cache_of_the_paper_codec_has_no_sigma(tmp_path, tiny_codec):
    data = TensorDataset(torch.rand(2, 3, 16, 16), torch.tensor([0, 1]))
    encode_dataset(tiny_codec, data, tmp_path, "classification", "train")
    assert LatentCache(tmp_path, "classification", "train", "y")[0][0].shape == (4, 2, 2)
    with pytest.raises(ConfigError, match="needs sigma"):
        LatentCache(tmp_path, "classification", "train", "sigma")


def test_cli_classify_and_segment_read_a_hyperprior_file(tmp_path, spec, codec, image, capsys):
    save_image(image, tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "--codec", spec, "-o", str(tmp_path)]) == 0
    ndc = str(tmp_path / "in.ndc")
    task_model(tmp_path, codec, "classification", "y+sigma")
    task_model(tmp_path, codec, "segmentation", "sigma")
    capsys.readouterr()
    argv = ["classify", ndc, "--model", str(tmp_path / "cresnet39.safetensors"), "--codec", spec]
    assert main([*argv, "--json", "-"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("[") :])[0]["file"] == ndc
    argv = ["segment", ndc, "--model", str(tmp_path / "cresnet39-d.safetensors"), "--codec", spec]
    assert main([*argv, "-o", str(tmp_path / "masks")]) == 0
    mask = load_image(next((tmp_path / "masks").glob("*.png")))
    assert mask.shape[-2:] == (70, 90)


@pytest.mark.slow
def test_joint_training_of_a_hyperprior_and_its_classifier(tmp_path, spec, codec, monkeypatch):
    """Gupta et al.'s joint training runs here: codec and cResNet on ŷ+σ̂ fine-tuned together,
    the new codec written as a loadable file, the classifier tagged with it."""
    from nodecode.codec.zoo import load_codec
    from nodecode.train.joint import JointTrainConfig, train_joint

    monkeypatch.setenv("NODECODE_CACHE", str(tmp_path / "cache"))
    task_model(tmp_path, codec, "classification", "y+sigma", classes=3)
    with pytest.raises(ConfigError, match="3 classes"):
        train_joint(
            JointTrainConfig(
                codec=spec,
                classifier=str(tmp_path / "cresnet39.safetensors"),
                data="fashion-scenes:mini",
            ),
            tmp_path / "wrong",
        )
    task_model(tmp_path, codec, "classification", "y+sigma", classes=10)
    config = JointTrainConfig(
        codec=spec,
        classifier=str(tmp_path / "cresnet39.safetensors"),
        data="fashion-scenes:mini",
        epochs=1,
        batch_size=256,
        lr=1e-3,
    )
    result = train_joint(config, tmp_path / "joint")
    tuned = load_codec(result["codec"])
    assert tuned.identity() != codec.identity() and result["steps"] == 4
    _, tagged = load_task_model(result["classifier"])
    assert tagged.codec_id == tuned.identity().hex() and tagged.input == "y+sigma"
    compress_image(tuned, torch.rand(3, 64, 64), tmp_path / "x.ndc")
    assert read_latents(tuned, tmp_path / "x.ndc")[1]["sigma"].shape == (1, 192, 4, 4)
    with pytest.raises(ConfigError, match="--beta"):
        train_joint(JointTrainConfig(codec=spec, mode="compression", beta=1.0), tmp_path / "b")


def test_rate_control_is_refused_for_models_that_set_rate_by_quality(codec, image):
    from nodecode.codec.files import compressed_bytes

    with pytest.raises(ConfigError, match="rate control.*paper's codecs"):
        compressed_bytes(codec, image, bpp="nominal")
