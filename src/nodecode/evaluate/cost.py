"""Measured cost of every network and pipeline (Table 1, Fig. 6), by torch's FLOP counter.

MACs are counted by `torch.utils.flop_counter` (convolutions and matrix products; a MAC is
half of its FLOPs), never by hand-written formulas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nodecode.codec import CodecConfig, ConvAutoencoder
from nodecode.models import SPECS, create

# The paper's Table 1 / §3.1, in multiply-accumulates ×1e9 ("FLOPs" in the paper).
PAPER_MACS = {
    "resnet50": 3.86,
    "resnet71": 5.38,
    "cresnet39": 2.95,
    "cresnet51": 3.83,
    "cresnet72": 5.36,
    "encoder": 3.56,
    "decoder": 2.85,
}
CLASSIFICATION_SIZE = 224
SEGMENTATION_SIZE = 320


@dataclass
class Cost:
    name: str
    task: str
    input: str
    macs: int
    params: int
    paper_macs: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    was_training = module.training
    module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    module.train(was_training)
    return counter.get_total_flops() // 2


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _input(name: str, size: int, latent_channels: int) -> torch.Tensor:
    if SPECS[name.removesuffix("-d")].on_latents:
        return torch.zeros(1, latent_channels, size // 8, size // 8)
    return torch.zeros(1, 3, size, size)


def network_costs(width: float = 1.0, latent_channels: int = 32) -> list[Cost]:
    """Every classifier at 224² / 28² and segmenter at 320² / 40², plus the codec."""
    rows = []
    for task, size, suffix, classes in (
        ("classification", CLASSIFICATION_SIZE, "", 1000),
        ("segmentation", SEGMENTATION_SIZE, "-d", 21),
    ):
        for base in SPECS:
            name = base + suffix
            net = create(
                name,
                num_classes=classes,
                width=width,
                in_channels=latent_channels if SPECS[base].on_latents else 3,
            )
            x = _input(name, size, latent_channels)
            shape = "x".join(str(s) for s in x.shape[1:])
            at_paper_size = width == 1.0 and latent_channels == 32
            paper = PAPER_MACS.get(name) if at_paper_size else None
            rows.append(Cost(name, task, shape, count_macs(net, x), count_params(net), paper))
        codec = ConvAutoencoder(CodecConfig(latent_channels=latent_channels))  # paper widths
        image = torch.zeros(1, 3, size, size)
        latent = torch.zeros(1, codec.config.latent_channels, size // 8, size // 8)
        paper_ok = task == "classification" and latent_channels == 32
        rows += [
            Cost(
                "encoder",
                task,
                f"3x{size}x{size}",
                count_macs(codec.g_a, image),
                count_params(codec.g_a),
                PAPER_MACS["encoder"] if paper_ok else None,
            ),
            Cost(
                "decoder",
                task,
                "x".join(map(str, latent.shape[1:])),
                count_macs(codec.g_s, latent),
                count_params(codec.g_s),
                PAPER_MACS["decoder"] if paper_ok else None,
            ),
        ]
    return rows


def pipeline_costs(rows: list[Cost]) -> list[dict]:
    """Inference cost from the bitstream, as in Fig. 6: RGB networks must first run the
    decoder, cResNets read the latent directly. (Encoding is common to both and excluded.)"""
    out = []
    for task in dict.fromkeys(r.task for r in rows):
        by_name = {r.name: r for r in rows if r.task == task}
        decoder = by_name["decoder"].macs
        for name, row in by_name.items():
            if name in ("encoder", "decoder"):
                continue
            on_rgb = not SPECS[name.removesuffix("-d")].on_latents
            total = row.macs + (decoder if on_rgb else 0)
            pipeline = f"decode + {name}" if on_rgb else f"{name} on latent"
            out.append(
                {"task": task, "pipeline": pipeline, "network_macs": row.macs, "total_macs": total}
            )
    return out
