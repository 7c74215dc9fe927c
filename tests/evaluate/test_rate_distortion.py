import math

import pytest
import torch

from nodecode.evaluate.baselines import jpeg, jpeg2000
from nodecode.evaluate.metrics import psnr, quality
from nodecode.evaluate.rate_distortion import (
    RDPoint,
    at_matched_bpp,
    evaluate_at_equal_rate,
    evaluate_baselines,
    evaluate_codec,
    summarize,
)


def test_psnr_known_values():
    x = torch.zeros(3, 8, 8)
    assert psnr(x, x) == math.inf
    y = x + 10 / 255  # MSE 100 on the 0-255 scale
    assert psnr(x, y) == pytest.approx(10 * math.log10(255**2 / 100))


def test_quality_metrics_of_identical_images_and_small_images(photo):
    q = quality(photo, photo)
    assert q["ssim"] == pytest.approx(1.0) and q["psnr"] == math.inf
    assert math.isnan(q["ms_ssim"])  # 97 px is too small for 5-scale MS-SSIM


def test_baselines_spend_more_bytes_for_more_quality(photo):
    low, high = jpeg(photo, 10), jpeg(photo, 90)
    assert low.num_bytes < high.num_bytes
    assert psnr(photo, low.image) < psnr(photo, high.image)
    j2k = jpeg2000(photo, 0.5)
    bpp = 8 * j2k.num_bytes / (photo.shape[1] * photo.shape[2])
    assert bpp == pytest.approx(0.5, rel=0.35)


def test_matched_bpp_interpolates_and_refuses_to_extrapolate():
    points = [
        RDPoint("jpeg", "a", "im", 0.2, 20.0, 0.5, 0.8, 2.0),
        RDPoint("jpeg", "b", "im", 0.6, 30.0, 0.7, 0.9, 1.0),
    ]
    mid = at_matched_bpp(points, "jpeg", "im", 0.4)
    assert mid["psnr"] == pytest.approx(25.0) and mid["ssim"] == pytest.approx(0.6)
    assert math.isnan(at_matched_bpp(points, "jpeg", "im", 0.1)["psnr"])


def test_codec_evaluation_measures_real_files(tiny_codec, photo, tmp_path):
    points = evaluate_codec(tiny_codec, {"p": photo}, workdir=tmp_path)
    assert (tmp_path / "p.ndc").is_file() and (tmp_path / "p.png").is_file()
    file_bits = 8 * (tmp_path / "p.ndc").stat().st_size
    assert points[0].bpp == pytest.approx(file_bits / (97 * 119))
    assert points[0].bpp_estimate < points[0].bpp  # the file adds a header
    rows = summarize(points, evaluate_baselines({"p": photo}, ["jpeg2000"]))
    assert rows[0]["codec"] == "tiny" and "jpeg2000_psnr" in rows[0]


def test_codecs_at_equal_rate_both_go_under_the_cheaper_ones_file(spread_codec, photo):
    import copy

    dear = copy.deepcopy(spread_codec)
    dear.name = "dear"
    with torch.no_grad():  # a wider latent spread: more bits on the same image
        dear.g_a[-1].weight.mul_(1.5)
    plain = {c.name: evaluate_codec(c, {"p": photo})[0].bpp for c in (spread_codec, dear)}
    assert plain["dear"] > plain["tiny"]
    equal = evaluate_at_equal_rate([spread_codec, dear], {"p": photo}, margin=0.9)
    target = 0.9 * plain["tiny"]
    assert set(equal) == {"tiny", "dear"}
    # Each file fits the one target, and neither falls far short of it (rate control fills it).
    assert all(0.8 * target < points[0].bpp <= target for points in equal.values())


def test_webp_is_a_baseline_and_at_rate_stays_within_the_budget(photo):
    from nodecode.evaluate.baselines import BASELINES, at_rate, webp

    assert "webp" in BASELINES
    low, high = webp(photo, 5), webp(photo, 90)
    assert low.num_bytes < high.num_bytes and psnr(photo, low.image) < psnr(photo, high.image)
    pixels = photo.shape[1] * photo.shape[2]
    for method in ("jpeg", "webp"):
        coded = at_rate(method, photo, 2.0)
        assert 8 * coded.num_bytes / pixels <= 2.0
        assert 8 * at_rate(method, photo, 4.0).num_bytes >= 8 * coded.num_bytes


def test_colour_error_measures_a_cast_in_8_bit_levels(photo):
    from nodecode.evaluate.metrics import color_error

    shifted = photo.clone()
    shifted[1] = (shifted[1] + 5 / 255).clamp(0, 1)
    assert color_error(photo, photo) == 0.0
    assert 3.0 < color_error(photo, shifted) <= 5.0 + 1e-4


def test_compressai_results_files_load_in_its_plot_tool(tmp_path):
    import json

    from compressai.utils.plot.__main__ import parse_json_file

    from nodecode.evaluate.rate_distortion import write_compressai_results

    points = [
        RDPoint("paper-0.330", "paper-0.330", "a", 0.3, 30.0, 0.8, 0.95, 0.5),
        RDPoint("paper-0.635", "paper-0.635", "a", 0.6, 33.0, 0.9, 0.98, 0.4),
        RDPoint("jpeg", "10", "a", 0.25, 27.0, 0.7, 0.9, 1.0),
    ]
    paths = write_compressai_results(points, tmp_path, "fixture")
    assert sorted(p.name for p in paths) == ["jpeg.json", "paper.json"]
    curve = parse_json_file(tmp_path / "paper.json", "psnr")
    assert curve["xs"] == [0.3, 0.6] and curve["ys"] == [30.0, 33.0]
    assert json.loads((tmp_path / "jpeg.json").read_text())["name"] == "JPEG"


def test_rate_controlled_and_refined_encodings_get_their_own_names_and_curves(tiny_codec, tmp_path):
    from nodecode.codec.refine import RefineConfig
    from nodecode.evaluate.rate_distortion import method_name, write_compressai_results

    refine = RefineConfig(steps=80)
    names = [
        method_name(tiny_codec),
        method_name(tiny_codec, bpp=0.5),
        method_name(tiny_codec, refine=refine),
        method_name(tiny_codec, bpp=0.5, refine=refine),
    ]
    assert names == ["tiny", "tiny@0.5", "tiny+refine80", "tiny@0.5+refine80"]
    points = [RDPoint(n, n, "a", 0.3, 30.0, 0.8, 0.95, 0.5) for n in names]
    paths = write_compressai_results(points, tmp_path, "fixture")
    assert sorted(p.stem for p in paths) == [
        "tiny", "tiny-rate-controlled", "tiny-refined", "tiny-refined-rate-controlled",
    ]  # fmt: skip


def test_an_unreachable_rate_names_the_image_or_leaves_its_row_out(
    tiny_codec, photo, tmp_path, caplog
):
    from nodecode.errors import RateUnreachableError
    from nodecode.evaluate.rate_distortion import compare_codecs

    images = {"tiny-photo": photo[:, :32, :32]}  # the header alone is over 0.01 bpp here
    with pytest.raises(RateUnreachableError, match="tiny-photo: 32x32 image at 0.01 bpp"):
        compare_codecs([tiny_codec], images, ["jpeg"], tmp_path / "a", rates=[0.01])
    rows = compare_codecs(
        [tiny_codec], images, ["jpeg"], tmp_path / "b", rates=[0.01, 8.0], skip_unreachable=True
    )
    assert [r["codec"] for r in rows] == ["tiny", "tiny@8"]
    assert "tiny@0.01 left out: tiny-photo" in caplog.text


def test_summary_states_how_well_the_images_pin_the_mean_rate():
    points = [
        RDPoint("c", "c", f"im{i}", bpp, 30.0, 0.9, 0.95, 0.1)
        for i, bpp in enumerate((0.1, 0.2, 0.3))
    ]
    row = summarize(points, [])[0]
    assert row["bpp"] == pytest.approx(0.2)
    assert row["bpp_se"] == pytest.approx(0.1 / math.sqrt(3))  # sample sd 0.1 over 3 images
    assert math.isnan(summarize(points[:1], [])[0]["bpp_se"])  # one image says nothing of it


def test_points_measured_earlier_join_the_comparison_as_if_measured_now(
    tiny_codec, photo, tmp_path
):
    """reproduce measures each fine-tuned codec beside its training (a stage of its own) and
    compares them all at the end from those points, without their weights."""
    from dataclasses import asdict, replace

    from nodecode.evaluate.rate_distortion import compare_codecs, evaluate_codec

    images = {"tiny-photo": photo[:, :32, :32]}
    together = compare_codecs([tiny_codec], images, ["jpeg"], tmp_path / "a")
    earlier = [RDPoint(**asdict(p)) for p in evaluate_codec(tiny_codec, images)]  # via JSON
    renamed = [replace(p, method="tiny-ft", setting="tiny-ft") for p in earlier]
    rows = compare_codecs([tiny_codec], images, ["jpeg"], tmp_path / "b", measured=renamed)
    assert [r["codec"] for r in rows] == ["tiny", "tiny-ft"]
    assert rows[1] | {"codec": "tiny"} == together[0]
    assert "tiny-ft" in (tmp_path / "b" / "rd_points.csv").read_text()
