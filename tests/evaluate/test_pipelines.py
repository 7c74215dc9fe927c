"""Both paths from real `.ndc` files: the latent path never runs the decoder."""

import pytest
import torch

from nodecode.evaluate.pipelines import run_pipelines, write_bitstreams
from nodecode.models import create


@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_latent_path_skips_the_decoder_and_both_paths_score(tmp_path, tiny_codec, task):
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 32, 40, generator=generator) for _ in range(3)]
    files = write_bitstreams(tiny_codec, images, tmp_path)
    seg = task == "segmentation"
    classes = 11 if seg else 10
    targets = [
        torch.randint(0, classes, (32, 40) if seg else (), generator=generator) for _ in images
    ]
    suffix = "-d" if seg else ""
    latent_model = create(f"cresnet39{suffix}", num_classes=classes, in_channels=4, width=0.125)
    decoded_model = create(f"resnet50{suffix}", num_classes=classes, width=0.125)
    calls = []
    tiny_codec.g_s.register_forward_hook(lambda *args: calls.append(1))
    latent, decoded = run_pipelines(
        tiny_codec, files, targets, latent_model, decoded_model, task, classes
    )
    # Only the decoded path ran g_s: once per file, and once to warm up.
    assert len(calls) == len(images) + 1
    total_bits = 8 * sum(f.stat().st_size for f in files)
    assert latent.bpp == decoded.bpp == pytest.approx(total_bits / (3 * 32 * 40))
    for result in (latent, decoded):
        row = result.row(len(images))
        assert row["ms"] > 0 and len(result.predictions) == 3
        # The scores are the ones the kept predictions give against the targets.
        if seg:
            assert result.predictions[0].shape == (32, 40)
            from torchmetrics.functional.classification import multiclass_jaccard_index

            expected = multiclass_jaccard_index(
                torch.stack(result.predictions), torch.stack(targets), classes, average="none"
            )
            seen = torch.stack([*result.predictions, *targets]).unique()
            assert row["miou"] == pytest.approx(100 * expected[seen].mean().item(), abs=1e-3)
        else:
            hits = sum(int(p) == int(t) for p, t in zip(result.predictions, targets, strict=True))
            assert row["top1"] == pytest.approx(100 * hits / len(images))
