"""The Python API: files and image tensors alike, the same answers as the CLI's path."""

import pytest
import torch

import nodecode
from nodecode.codec.files import compress_image
from nodecode.codec.zoo import load_codec
from nodecode.errors import ConfigError
from nodecode.inference import predict_file
from nodecode.models.zoo import load_task


def test_classify_files_and_tensors_in_order(tmp_path, photo):
    codec = load_codec("paper-0.330")
    crops = [photo[:, :64, :64], photo[:, 16:80, 8:72]]
    files = []
    for i, crop in enumerate(crops):
        compress_image(codec, crop, tmp_path / f"{i}.ndc")
        files.append(tmp_path / f"{i}.ndc")
    answers = nodecode.classify([files[0], crops[1], files[1]], model="cresnet51-0.330", top=3)
    assert len(answers) == 3 and all(len(a) == 3 for a in answers)
    model, meta = load_task("cresnet51-0.330")
    _, probs = predict_file(model, meta, codec, files[0])
    assert answers[0][0] == (
        meta.classes[int(probs.argmax())],
        pytest.approx(probs.max().item()),
    )
    # A tensor is encoded with the model's codec: the same latent as its file, the same answer.
    assert [label for label, _ in answers[1]] == [label for label, _ in answers[2]]
    # Files decoded in a worker process: the same answers, in the same order.
    in_workers = nodecode.classify(files, model="cresnet51-0.330", top=3, workers=1)
    for got, expected in zip(in_workers, [answers[0], answers[2]], strict=True):
        assert [label for label, _ in got] == [label for label, _ in expected]
        assert [p for _, p in got] == pytest.approx([p for _, p in expected], abs=1e-5)
    bf16 = nodecode.classify([files[0], crops[1]], model="cresnet51-0.330", precision="bf16")
    assert len(bf16) == 2 and sum(p for _, p in bf16[0]) <= 1.0 + 1e-3


def test_segment_gives_masks_at_image_size(photo):
    masks = nodecode.segment([photo[:, :61, :77]], model="cresnet51-d-0.330")
    assert masks[0].shape == (61, 77) and masks[0].dtype == torch.int64


def test_wrong_kind_of_model_or_input():
    with pytest.raises(ConfigError, match="is a segmentation model"):
        nodecode.classify([torch.rand(3, 32, 32)], model="cresnet51-d-0.330")
    with pytest.raises(ConfigError, match="reads decoded images"):
        nodecode.classify([torch.rand(3, 32, 32)], model="resnet50-0.330")
    with pytest.raises(ConfigError, match=r"\(3, H, W\) tensor"):
        nodecode.classify([torch.rand(32, 32)], model="cresnet51-0.330")
