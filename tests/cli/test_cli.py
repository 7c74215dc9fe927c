"""Smoke tests of every codec verb, through `main()` as a user would call it."""

import json

import pytest

from nodecode.cli.main import main
from nodecode.codec import save_codec
from nodecode.data.images import load_image, save_image


@pytest.fixture
def workspace(tmp_path, tiny_codec, photo):
    save_codec(tiny_codec, tmp_path / "tiny.safetensors")
    save_image(photo, tmp_path / "in" / "photo.png")
    return tmp_path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_compress_decompress_info_show_latents(workspace, capsys):
    ckpt = workspace / "tiny.safetensors"
    code, out, _ = run(
        capsys, "compress", workspace / "in" / "photo.png", "--codec", ckpt, "-o", workspace / "ndc"
    )
    assert code == 0 and "bpp" in out
    ndc = workspace / "ndc" / "photo.ndc"
    code, _, _ = run(capsys, "decompress", ndc, "--codec", ckpt, "-o", workspace / "dec")
    assert code == 0
    assert load_image(workspace / "dec" / "photo.png").shape == (3, 97, 119)
    code, out, _ = run(capsys, "info", ndc, "--codec", ckpt, "--json", "-")
    assert code == 0 and "latent_shape: 4x13x15" in out and "bits/symbol" in out
    info = json.loads(out[out.index("{") :])
    assert info["latent_shape"] == "4x13x15" and len(info["channel_entropy_bits"]) == 4
    assert "static per-channel tables" in out and info["context_levels"] == 0
    assert info["coded_bits"] == pytest.approx(8 * info["payload_bytes"] / (4 * 13 * 15))
    code, out, _ = run(capsys, "info", ndc)  # a custom codec: header only, and a hint
    assert code == 0 and "codec_id" in out and "pass --codec" in out
    code, _, _ = run(
        capsys, "show-latents", ndc, "--codec", ckpt, "-o", workspace / "lat.png", "--device", "cpu"
    )
    assert code == 0 and (workspace / "lat.png").stat().st_size > 1000


def test_errors_are_one_line_and_name_the_file(workspace, capsys):
    ckpt = workspace / "tiny.safetensors"
    code, _, err = run(capsys, "info", workspace / "in" / "photo.png", "--codec", ckpt)
    assert code == 1 and "photo.png: not a .ndc file" in err and "Traceback" not in err
    code, _, err = run(capsys, "compress", workspace / "nope.png", "--codec", ckpt, "-o", workspace)
    assert code == 1 and "nope.png: no such image file" in err
    code, _, err = run(
        capsys,
        "compress",
        workspace / "in" / "photo.png",
        "--codec",
        "paper-0.635-untrained",
        "-o",
        workspace / "x",
    )
    assert code == 1 and "no frequency tables" in err
    assert not (workspace / "x").exists() or not any((workspace / "x").iterdir())


def test_eval_codec_writes_csv_json_and_figure(workspace, capsys, photo):
    import torch

    big = torch.nn.functional.interpolate(photo[None], size=(176, 176), mode="bilinear")[0]
    save_image(big, workspace / "big" / "big.png")
    code, out, _ = run(
        capsys,
        "eval-codec",
        "--codec",
        workspace / "tiny.safetensors",
        "--images",
        workspace / "big",
        "-o",
        workspace / "eval",
        "--baselines",
        "jpeg2000",
    )
    assert code == 0 and "MS-SSIM" in out
    summary = json.loads((workspace / "eval" / "rd_summary.json").read_text())
    assert summary[0]["codec"] == "tiny" and 0 < summary[0]["ms_ssim"] <= 1
    assert (workspace / "eval" / "rd.png").is_file()
    assert (workspace / "eval" / "rd_points.csv").read_text().count("\n") > 5


def test_demo_runs_on_a_small_image_set(workspace, capsys, monkeypatch):
    from nodecode.models.zoo import shipped_task_models

    monkeypatch.setenv("NODECODE_CACHE", str(workspace / "cache"))
    code, out, _ = run(
        capsys,
        "demo",
        "--images",
        workspace / "in",
        "--out",
        workspace / "demo",
        "--scenes",
        "mini",
        "--classify",
        "6",
        "--segment",
        "2",
        "--device",
        "cpu",
    )
    assert code == 0 and "paper-0.330" in out
    assert (workspace / "demo" / "paper-0.330" / "photo.ndc").is_file()
    assert (workspace / "demo" / "rd.png").is_file()
    report = (workspace / "demo" / "REPORT.md").read_text()
    if "cresnet51-0.330" in shipped_task_models():  # the demo models of docs/RESULTS.md §4
        assert "Understanding from bitstreams" in report and "decoded" in out
        assert (workspace / "demo" / "masks-0.330.png").stat().st_size > 1000
        assert (
            len(list((workspace / "demo" / "scenes" / "0.330" / "segmentation").glob("*.ndc"))) == 2
        )


def test_train_codec_command(tmp_path, capsys):
    out = tmp_path / "mine.safetensors"
    code, printed, _ = run(
        capsys,
        "train-codec",
        "--op",
        "0.330",
        "--width",
        "0.125",
        "--crop",
        "32",
        "--batch-size",
        "2",
        "--max-steps",
        "2",
        "--table-batches",
        "1",
        "--out",
        out,
        "--json",
        tmp_path / "training.json",
    )
    assert code == 0 and "codec 'mine'" in printed
    record = json.loads((tmp_path / "training.json").read_text())
    assert record["codec"] == "mine" and record["training"]["steps"] == 2
    from nodecode.codec import load_codec_checkpoint

    codec = load_codec_checkpoint(out)
    assert codec.ready and codec.config.latent_channels == 16 and codec.config.width == 0.125
    assert codec.config.context_levels == 2  # new codecs code in context by default


def test_fit_tables_adds_context_coding_to_a_trained_codec(workspace, capsys):
    from nodecode.codec import load_codec_checkpoint

    ckpt, fitted = workspace / "tiny.safetensors", workspace / "tiny-ctx.safetensors"
    args = ("fit-tables", "--codec", ckpt, "--images", workspace / "in", "-o", fitted)
    code, printed, _ = run(capsys, *args, "--context-levels", "2", "--json", workspace / "t.json")
    assert code == 0 and "wrote" in printed
    codec = load_codec_checkpoint(fitted)
    assert codec.config.context_levels == 2 and codec.ready
    record = json.loads((workspace / "t.json").read_text())
    assert record["codec_id"] == codec.identity().hex() and record["tables"]["context_levels"] == 2
    image = workspace / "in" / "photo.png"
    for name, path in (("static", ckpt), ("context", fitted)):
        code, _, _ = run(capsys, "compress", image, "--codec", path, "-o", workspace / name)
        assert code == 0
        code, _, _ = run(
            capsys,
            "decompress",
            workspace / name / "photo.ndc",
            "--codec",
            path,
            "-o",
            workspace / f"{name}-png",
        )
        assert code == 0
    same = [load_image(workspace / f"{n}-png" / "photo.png") for n in ("static", "context")]
    assert (same[0] - same[1]).abs().max() < 1 / 255 + 1e-6  # the same latent decoded
    code, _, err = run(capsys, *args, "--context-levels", "9")
    assert code == 1 and "context_levels 9" in err and "Traceback" not in err


def test_one_pixel_and_16_bit_images_round_trip(workspace, capsys):
    import numpy as np
    from PIL import Image

    Image.new("RGB", (1, 1), (200, 10, 10)).save(workspace / "in" / "one.png")
    gray = (np.linspace(0, 65535, 24 * 20).reshape(24, 20)).astype(np.uint16)
    Image.fromarray(gray).save(workspace / "in" / "deep.png")
    ckpt = workspace / "tiny.safetensors"
    inputs = [workspace / "in" / "one.png", workspace / "in" / "deep.png"]
    code, _, _ = run(capsys, "compress", *inputs, "--codec", ckpt, "-o", workspace / "ndc")
    assert code == 0
    ndcs = [workspace / "ndc" / "one.ndc", workspace / "ndc" / "deep.ndc"]
    code, _, _ = run(capsys, "decompress", *ndcs, "--codec", ckpt, "-o", workspace / "dec")
    assert code == 0
    assert load_image(workspace / "dec" / "one.png").shape == (3, 1, 1)
    deep = load_image(workspace / "dec" / "deep.png")
    assert deep.shape == (3, 24, 20) and deep.mean() < 0.8  # not clipped to white


def test_compress_to_a_rate_and_eval_codec_under_rate_control(workspace, capsys):
    from nodecode.data.photos import load_photo

    load_photo("astronaut").save(workspace / "in" / "astronaut.png")
    image = workspace / "in" / "astronaut.png"
    code, out, _ = run(
        capsys, "compress", image, "--codec", "paper-0.0983", "--bpp", "0.06",
        "-o", workspace / "rc", "--json", "-",
    )  # fmt: skip
    record = json.loads(out[out.index("[") :])[0]  # its plain file: 0.086 bpp
    assert code == 0 and 0.057 < record["bpp"] <= 0.06
    code, _, err = run(
        capsys, "compress", image, "--codec", "paper-0.0983", "--bpp", "0.001", "-o", workspace
    )
    assert code == 1 and "astronaut.png: " in err and "higher --bpp" in err
    for flag, value in (("--bpp", "fast"), ("--refine", "-3")):
        with pytest.raises(SystemExit) as exit_info:
            main(["compress", str(image), "--codec", "paper-0.0983", flag, value, "-o", "x"])
        assert exit_info.value.code == 2 and flag in capsys.readouterr().err
    photo, tiny = workspace / "in" / "photo.png", workspace / "tiny.safetensors"
    code, out, _ = run(
        capsys, "compress", photo, "--codec", tiny, "--refine", "3", "-o", workspace / "refined"
    )
    assert code == 0 and (workspace / "refined" / "photo.ndc").is_file()
    code, out, _ = run(
        capsys, "eval-codec", "--codec", workspace / "tiny.safetensors", "--images",
        workspace / "in", "--bpp", "5", "-o", workspace / "eval", "--baselines", "jpeg",
        "--json", workspace / "eval.json",
    )  # fmt: skip
    summary = json.loads((workspace / "eval" / "rd_summary.json").read_text())
    assert code == 0 and [row["codec"] for row in summary] == ["tiny", "tiny@5"]
    assert json.loads((workspace / "eval.json").read_text()) == summary
    assert summary[1]["bpp"] == summary[0]["bpp"]  # every image is under 5 bpp already
