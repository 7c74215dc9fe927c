"""Wall-clock time from a file to an answer, every path measured the same way (Fig. 12).

Paths: `.ndc` → entropy decoding → latent → cResNet (the paper's), `.ndc` → entropy
decoding → g_s → ResNet on the decoded image, and JPEG → Pillow → ResNet (what users run
instead). Each stage is timed separately, per batch, in interleaved rounds so a busy
moment hurts every path alike; the reported time is per image (stage time / batch size).
Networks run eager fp32 under `torch.inference_mode` with random weights (speed does not
depend on them); `fast` folds batch norms and uses channels-last memory, and `compile` compiles
with frozen weights, for every network and the codec's decoder alike, so the comparison stays
fair. Every path runs once at each batch size before the rounds (first-call allocations,
kernel choice, compilation), so no round pays for them.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn
from tqdm import tqdm

from nodecode.codec.autoencoder import ConvAutoencoder
from nodecode.codec.files import COLOR_STEP, compressed_bytes, symbols_from_bytes
from nodecode.data.images import pil_to_tensor, tensor_to_pil
from nodecode.evaluate.cost import count_macs
from nodecode.models import create
from nodecode.models.inference import FrozenCompiled, for_inference
from nodecode.utils.precision import autocast

# (task, input path, network); the first decoded and JPEG rows are the references.
PIPELINES = (
    ("classification", "latent", "cresnet39"),
    ("classification", "latent", "cresnet51"),
    ("classification", "latent", "cresnet72"),
    ("classification", "decoded", "resnet50"),
    ("classification", "decoded", "resnet71"),
    ("classification", "jpeg", "resnet50"),
    ("segmentation", "latent", "cresnet51-d"),
    ("segmentation", "decoded", "resnet50-d"),
    ("segmentation", "jpeg", "resnet50-d"),
)
NUM_CLASSES = {"classification": 1000, "segmentation": 21}  # ImageNet, PASCAL VOC


@dataclass(frozen=True)
class BenchConfig:
    codec: str = "paper-0.330"
    batch_sizes: tuple[int, ...] = (1, 16, 64)
    rounds: int = 4
    width: float = 1.0  # the networks' channel multiplier (1.0: the paper's)
    sizes: dict[str, int] = field(
        default_factory=lambda: {"classification": 224, "segmentation": 320}
    )
    tasks: tuple[str, ...] = ("classification", "segmentation")
    jpeg_quality: int = 90
    device: str = "cpu"
    # Batch norms folded and channels-last memory, for every network and the codec alike.
    fast: bool = False
    # "bf16": g_s and every network under bf16 autocast (the peak is measured the same way).
    precision: str = "fp32"
    # torch.compile with frozen weights (models/inference.FrozenCompiled): every network and g_s.
    compile: bool = False


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Adds the wall-clock time of each `with timer(stage):` block to that stage."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str) -> Timer:
        self.stage = stage
        return self

    def __enter__(self) -> None:
        _synchronize(self.device)
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        _synchronize(self.device)
        self.seconds[self.stage] = (
            self.seconds.get(self.stage, 0.0) + time.perf_counter() - self.start
        )


def photo_crops(size: int, count: int) -> list[Tensor]:
    """`count` distinct size² crops of the bundled test photos (never seen in training)."""
    from nodecode.data.photos import photo_split

    photos = [pil_to_tensor(image) for image in photo_split("test").values()]
    crops: list[Tensor] = []
    generator = torch.Generator().manual_seed(0)
    while len(crops) < count:
        photo = photos[len(crops) % len(photos)]
        scale = size / min(photo.shape[-2:]) * 1.25
        photo = nn.functional.interpolate(
            photo[None], scale_factor=scale, mode="bilinear", antialias=True
        )[0]
        y = int(torch.randint(0, photo.shape[-2] - size + 1, (1,), generator=generator))
        x = int(torch.randint(0, photo.shape[-1] - size + 1, (1,), generator=generator))
        crops.append(photo[:, y : y + size, x : x + size].clamp(0, 1))
    return crops


def jpeg_bytes(image: Tensor, quality: int) -> bytes:
    buffer = io.BytesIO()
    tensor_to_pil(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def measure_peak_gmacs(
    device: torch.device, seconds: float = 1.0, precision: str = "fp32"
) -> float:
    """This machine's convolution rate: a ResNet conv4_x-sized 3×3 convolution (GMAC/s)."""
    conv = nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device).eval()
    x = torch.rand(8, 256, 28, 28, device=device)
    macs = count_macs(conv, x)
    best = float("inf")
    with torch.inference_mode(), autocast(device, precision):
        conv(x)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            _synchronize(device)
            start = time.perf_counter()
            conv(x)
            _synchronize(device)
            best = min(best, time.perf_counter() - start)
    return macs / best / 1e9


def _runner(
    kind: str,
    codec: ConvAutoencoder,
    network: nn.Module,
    device: torch.device,
    precision: str = "fp32",
    channels_last: bool = False,
) -> Callable[[list[bytes], Timer], Tensor]:
    """One batch of files through one path; each stage timed. With `channels_last`, every
    path's network input is converted to that layout inside the network's time, so no path
    gets it for free from its previous stage (g_s in channels-last does)."""
    layout = torch.channels_last if channels_last else torch.contiguous_format

    def run(files: list[bytes], timer: Timer) -> Tensor:
        if kind == "jpeg":
            with timer("jpeg decode"):
                x = torch.stack([pil_to_tensor(Image.open(io.BytesIO(f))) for f in files])
        else:
            with timer("entropy decode"):
                decoded = [symbols_from_bytes(codec, f, "<bench>") for f in files]
                symbols = torch.stack([s for _, s in decoded]).to(device)
            if kind == "latent":
                with timer("dequantize"):
                    x = codec.dequantize(symbols)
            else:
                with timer("g_s"), autocast(device, precision):  # as decode_image, batched
                    x = codec.decode(symbols, decoded[0][0].image_size).float()
                    offsets = torch.tensor([h.color_offset for h, _ in decoded], device=device)
                    x = (x + offsets[:, :, None, None] * COLOR_STEP).clamp(0.0, 1.0)
        with timer("network"), autocast(device, precision):
            out = network(x.to(device).contiguous(memory_format=layout))
        return out

    return run


@torch.no_grad()
def run_bench(config: BenchConfig, codec: ConvAutoencoder) -> dict[str, Any]:
    device = torch.device(config.device)
    codec = codec.to(device).eval()
    if config.fast:
        codec = codec.to(memory_format=torch.channels_last)
    synthesis = codec.g_s
    largest = max(config.batch_sizes)
    peak = measure_peak_gmacs(device, precision=config.precision)
    rows: list[dict[str, Any]] = []
    plans = []
    for task in config.tasks:
        size = config.sizes[task]
        images = photo_crops(size, largest)
        ndc = [compressed_bytes(codec, image) for image in images]
        jpg = [jpeg_bytes(image, config.jpeg_quality) for image in images]
        for task_name, kind, name in PIPELINES:
            if task_name != task:
                continue
            channels = codec.config.latent_channels if kind == "latent" else 3
            network = (
                create(
                    name, num_classes=NUM_CLASSES[task], in_channels=channels, width=config.width
                )
                .to(device)
                .eval()
            )
            one = (
                codec.dequantize(codec.encode(images[0][None].to(device)))
                if kind == "latent"
                else images[0][None].to(device)
            )
            network_macs = count_macs(network, one)
            decoder_macs = (
                count_macs(synthesis, codec.dequantize(codec.encode(images[0][None].to(device))))
                if kind == "decoded"
                else 0
            )
            if config.fast or config.compile:  # as classify/segment run them
                network = for_inference(network, config.fast, config.compile)
            files = ndc if kind != "jpeg" else jpg
            run = _runner(kind, codec, network, device, config.precision, config.fast)
            for batch in config.batch_sizes:
                row: dict[str, Any] = {
                    "task": task,
                    "path": kind,
                    "network": name,
                    "batch": batch,
                    "size": size,
                    "network_gmacs": network_macs / 1e9,
                    "decoder_gmacs": decoder_macs / 1e9,
                    "bytes_per_image": sum(len(f) for f in files) / len(files),
                    "rounds": [],
                }
                rows.append(row)
                plans.append((row, run, files[:batch]))
    if config.compile:
        codec.g_s = FrozenCompiled(synthesis)  # type: ignore[assignment]  # restored below
    try:
        with torch.inference_mode():
            for _, run, files in tqdm(plans, desc="warm-up", unit="path"):
                run(files, Timer(device))
            for _ in tqdm(range(config.rounds), desc="bench rounds", unit="round"):
                for row, run, files in plans:  # interleaved: every path in every round
                    timer = Timer(device)
                    run(files, timer)
                    row["rounds"].append({k: v / len(files) for k, v in timer.seconds.items()})
    finally:
        codec.g_s = synthesis
    for row in rows:
        summarize(row, peak)
    add_speedups(rows)
    return {"config": asdict(config), "codec": codec.name, "peak_gmacs_per_s": peak, "rows": rows}


def summarize(row: dict[str, Any], peak_gmacs: float) -> None:
    """Per-image ms by stage and in total (min and median over rounds); network MAC rate."""
    stages = row["rounds"][0].keys()
    row["stage_ms"] = {
        s: {
            "min": 1000 * min(r[s] for r in row["rounds"]),
            "median": 1000 * statistics.median(r[s] for r in row["rounds"]),
        }
        for s in stages
    }
    totals = [sum(r.values()) for r in row["rounds"]]
    row["total_ms"] = {"min": 1000 * min(totals), "median": 1000 * statistics.median(totals)}
    network_s = statistics.median(r["network"] for r in row["rounds"])
    row["network_gmacs_per_s"] = row["network_gmacs"] / network_s
    row["share_of_peak"] = row["network_gmacs_per_s"] / peak_gmacs
    entropy = row["stage_ms"].get("entropy decode")
    row["entropy_share"] = entropy["median"] / row["total_ms"]["median"] if entropy else None


def add_speedups(rows: list[dict[str, Any]]) -> None:
    """Each path's throughput relative to decode + ResNet-50(-d) and JPEG + ResNet-50(-d)."""
    for row in rows:
        for reference in ("decoded", "jpeg"):
            base = next(
                r
                for r in rows
                if r["task"] == row["task"]
                and r["batch"] == row["batch"]
                and r["path"] == reference
                and r["network"].startswith("resnet50")
            )
            row[f"speedup_vs_{reference}"] = base["total_ms"]["median"] / row["total_ms"]["median"]


def plot_bench(result: dict[str, Any], path: Any) -> None:
    """Per-image time by stage, stacked, one panel per task and batch size (like Fig. 12)."""
    from nodecode.evaluate.plotting import pyplot, save_figure

    plt = pyplot()
    rows = result["rows"]
    panels = sorted({(r["task"], r["batch"]) for r in rows}, key=lambda p: (p[0], p[1]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    colors = {
        "entropy decode": "C0",
        "dequantize": "C1",
        "g_s": "C3",
        "jpeg decode": "C2",
        "network": "C7",
    }
    for ax, (task, batch) in zip(axes[0], panels, strict=True):
        chosen = [r for r in rows if r["task"] == task and r["batch"] == batch]
        labels = [f"{r['path']}\n{r['network']}" for r in chosen]
        bottom = [0.0] * len(chosen)
        for stage, color in colors.items():
            values = [r["stage_ms"].get(stage, {"median": 0.0})["median"] for r in chosen]
            ax.bar(labels, values, bottom=bottom, color=color, label=stage)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(f"{task}, batch {batch}", fontsize=9)
        ax.set_ylabel("ms per image (median)")
        ax.tick_params(axis="x", labelsize=7, rotation=45)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
