"""From the bitstream to an answer, two ways (the paper's Fig. 2 and Fig. 12):

- latent: entropy-decode the `.ndc` file to ẑ and run a cResNet — the decoder never runs;
- decoded: entropy-decode, run the decoder g_s, and run a ResNet on the RGB image.

Each image is a real file; times are wall-clock per image from reading the file to the
prediction, batch size 1, so they include entropy decoding in both paths. Both networks run
as `classify`/`segment` run them (batch norms folded, channels-last, optionally compiled), so
neither path gets a lever the other lacks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassJaccardIndex

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import compress_image, decode_image, read_symbols
from nodecode.data.augment import IGNORE_INDEX
from nodecode.models.inference import for_inference


@dataclass
class PipelineResult:
    path: str
    task: str
    bpp: float
    correct: int = 0
    seconds: float = 0.0
    predictions: list[Tensor] = field(default_factory=list)
    iou: MulticlassJaccardIndex | None = None

    def row(self, count: int) -> dict[str, float | str]:
        row: dict[str, float | str] = {
            "path": self.path,
            "task": self.task,
            "bpp": self.bpp,
            "ms": 1000.0 * self.seconds / count,
        }
        if self.iou is None:
            row["top1"] = 100.0 * self.correct / count
        else:
            row["miou"] = 100.0 * self.iou.compute().mean().item()
        return row


def write_bitstreams(codec: ConvAutoencoder, images: list[Tensor], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i:04d}.ndc"
        compress_image(codec, image, path)
        paths.append(path)
    return paths


def _answer(
    codec: ConvAutoencoder,
    network: nn.Module,
    file: Path,
    path: str,
    task: str,
    device: torch.device,
) -> tuple[Tensor, int]:
    """One file through one path: the prediction (on the CPU) and the image's pixel count."""
    header, symbols = read_symbols(codec, file)
    if path == "latent":
        x = codec.dequantize(symbols.to(device))[None]
    else:
        x = decode_image(codec, header, symbols)[None].to(device)
    kwargs = {"output_size": header.image_size} if task == "segmentation" else {}
    x = x.contiguous(memory_format=torch.channels_last)
    return network(x, **kwargs)[0].argmax(0).cpu(), header.num_pixels  # waits for the device


@torch.inference_mode()
def run_pipelines(
    codec: ConvAutoencoder,
    files: list[Path],
    targets: list[Tensor],
    latent_model: nn.Module,
    decoded_model: nn.Module,
    task: str,
    num_classes: int,
    compile: bool = False,
) -> list[PipelineResult]:
    """Both paths over the same files; returns [latent, decoded] with predictions kept.
    Networks run where the codec is; predictions come back to the CPU. Each path answers the
    first file once, untimed, before the timed pass (with `compile`, that call compiles)."""
    device = next(codec.parameters()).device
    total_bytes = sum(f.stat().st_size for f in files)
    results = []
    for path_name, model in (("latent", latent_model), ("decoded", decoded_model)):
        network = for_inference(model.to(device), compile=compile)
        result = PipelineResult(path_name, task, 0.0)
        if task == "segmentation":
            result.iou = MulticlassJaccardIndex(
                num_classes, average="none", ignore_index=IGNORE_INDEX, sync_on_compute=False
            )
        if files:
            _answer(codec, network, files[0], path_name, task, device)  # warm-up
        image_pixels = 0
        for file, target in zip(files, targets, strict=True):
            start = time.perf_counter()
            prediction, pixels = _answer(codec, network, file, path_name, task, device)
            result.seconds += time.perf_counter() - start
            image_pixels += pixels
            result.predictions.append(prediction)
            if result.iou is not None:
                result.iou.update(prediction[None], target[None])
            else:
                result.correct += int(prediction.item() == int(target))
        result.bpp = 8.0 * total_bytes / image_pixels
        results.append(result)
    return results
