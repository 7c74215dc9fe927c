"""report/REPORT.md: our Table 2 beside the paper's, the four claims, and Figs. 3–9."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nodecode.reproduce.claims import NOISE_SE, claims, trivial_floors
from nodecode.reproduce.figures import (
    figure_costs,
    figure_curves,
    figure_finetuning,
    figure_latents,
    figure_masks,
)
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.presets import LOWEST, OPS, ReproducePreset
from nodecode.reproduce.records import Results
from nodecode.reproduce.results import (
    QUALITY_COLUMNS,
    cost_rows,
    image_size,
    quality_table,
    table2,
    with_networks,
)
from nodecode.reproduce.stage_id import StageId
from nodecode.utils.io import atomic_write_text
from nodecode.utils.tables import format_table

TABLE2_COLUMNS = [
    ("bpp", "bpp"),
    ("network", "network (input)"),
    ("seeds", "seeds"),
    ("top5", "top-5"),
    ("top1", "top-1"),
    ("miou", "mIoU"),
    ("val_top1", "val top-1"),
    ("val_miou", "val mIoU"),
    ("paper_top5", "paper top-5"),
    ("paper_top1", "paper top-1"),
    ("paper_miou", "paper mIoU"),
]


def files_read(stages: list[Stage]) -> set[StageId]:
    """The stages whose files, not only their numbers, the report reads: the first rate's
    cache (image size), the lowest's and its two seed-0 segmenters (Fig. 5), the logs of
    every seed-0 classifier at the paper's operating points and on RGB (Figs. 3–4), and the
    rate-distortion figure (Fig. 8)."""
    ids = {StageId("encode", OPS[0]), StageId("encode", LOWEST), StageId("rate-distortion")}
    ids |= {StageId("seg", LOWEST, model, seed=0) for model in ("resnet50-d", "cresnet51-d")}
    return ids | {
        s.id for s in stages if s.id.step == "cls" and s.id.seed == 0 and s.id.variant is None
    }


def validation_note(preset: ReproducePreset) -> str:
    if not preset.val_fraction:
        return "No validation split: every round was scored on the test split."
    return (
        f"'val': the last {preset.val_fraction:.0%} of the training split, held out and scored "
        "every round (hyperparameters are judged on it); the test split is scored once, at the end."
    )


def write_report(
    preset: ReproducePreset, stages: list[Stage], results: Results, out: Path, command: str
) -> Path:
    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    results = with_networks(results, stages)
    size = image_size(results)
    figure_curves(results, report / "fig3-4-accuracy-vs-epochs.png")
    figure_masks(results, report / "fig5-masks.png")
    figure_costs(results, size, report / "fig6-accuracy-vs-macs.png")
    figure_finetuning(results, report / "fig7-finetuning.png")
    rate_distortion = results[StageId("rate-distortion")]["figure"]
    shutil.copyfile(rate_distortion, report / "fig8-rate-distortion.png")
    figure_latents(results, preset.rd_images, report / "fig9-latents.png")
    seeds = ", ".join(map(str, preset.seeds))
    verdicts = claims(results, size)
    total = sum(r["seconds"] for r in results.values())
    devices = sorted({r["device"] for r in results.values() if "device" in r})
    where = f" ({'; '.join(devices)})" if devices else ""
    lines = [
        f"# Reproduction report: preset `{preset.name}`",
        "",
        f"Command: `{command}` — {preset.description}. Seeds {seeds} for the rows with "
        f"several; one seed (the first) elsewhere. Task networks at width {preset.width}, "
        f"{preset.epochs} classification epochs ({preset.schedule} schedule), "
        f"{preset.seg_iters} segmentation iterations. "
        f"Stage compute time: {total / 60:.1f} min{where}.",
        "",
        "## Table 2 (ours beside the paper's)",
        "",
        "Ours: fashion-scenes test split (top-k %, mIoU % over background + 10 classes); "
        "mean ± std over seeds. Paper: ImageNet / PASCAL VOC. " + validation_note(preset),
        "",
        format_table(table2(results), TABLE2_COLUMNS, digits=2, markdown=True),
        "",
        trivial_floors(results),
        "",
        "## The paper's four claims on our data",
        "",
        f"Two-sided: a result far better than the paper's is a different result. Over seeds a "
        f"difference counts as past a bound (the tolerance, or zero) only when it clears it by "
        f"{NOISE_SE:g} standard errors of the difference (± s.e. below); what the seeds' noise "
        "leaves open is 'unresolved'. With one seed the point estimate decides.",
        "",
        format_table(
            verdicts,
            [("number", "#"), ("claim", "claim"), ("verdict", "verdict"), ("evidence", "numbers")],
            markdown=True,
        ),
        "",
        "## Compression before and after fine-tuning (App. A.7)",
        "",
        f"On `{preset.rd_images}`, bpp from file bytes. 'Original curve' interpolates the "
        "three original codecs at the fine-tuned codec's bpp (matched bpp).",
        "",
        format_table(quality_table(results), QUALITY_COLUMNS, digits=4, markdown=True),
        "",
        "## Cost at the lowest rate (Fig. 6)",
        "",
        f"MACs per {size}² image of the networks as trained here (width {preset.width}) and of "
        "the codec's decoder at its own width; the ratio depends on those widths. At the "
        "paper's widths and sizes see `nodecode flops` (docs/RESULTS.md §1).",
        "",
        format_table(
            cost_rows(results, LOWEST, size),
            [
                ("network", "network"),
                ("macs", "MACs"),
                ("macs_with_decoder", "MACs + decoder"),
                ("top1", "top-1"),
                ("seg_macs", "seg MACs"),
                ("seg_macs_with_decoder", "seg MACs + decoder"),
                ("miou", "mIoU"),
            ],
            digits=2,
            markdown=True,
        ),
        "",
        "## Figures",
        "",
        "![Figs. 3-4](fig3-4-accuracy-vs-epochs.png)",
        "![Fig. 5](fig5-masks.png)",
        "![Fig. 6](fig6-accuracy-vs-macs.png)",
        "![Fig. 7](fig7-finetuning.png)",
        "![Fig. 8](fig8-rate-distortion.png)",
        "![Fig. 9](fig9-latents.png)",
        "",
        "## Stages",
        "",
        *stage_table(stages, results),
        "",
    ]
    path = report / "REPORT.md"
    atomic_write_text(path, "\n".join(lines))
    by_name = {id.name: result for id, result in results.items()}
    atomic_write_text(report / "results.json", json.dumps(by_name, indent=1, default=str) + "\n")
    return path


def stage_table(stages: list[Stage], results: Results) -> list[str]:
    """Each stage's wall-clock, and where it ran; on a GPU also how busy the GPU was (mean
    utilisation, peak memory): what a run on an accelerator is judged by besides its
    numbers. Stages imported from runs made before devices were recorded show n/a."""
    optional = [
        ("device", "device"),
        ("gpu_utilization", "GPU util. %"),
        ("gpu_memory_peak_gb", "GPU peak GB"),
    ]
    rows = [
        {"stage": s.name, "what": s.describe(), "key": s.key, "seconds": results[s.id]["seconds"]}
        | {k: results[s.id][k] for k, _ in optional if k in results[s.id]}
        for s in stages
    ]
    columns = [("stage", "stage"), ("what", "what"), ("key", "config hash"), ("seconds", "s")]
    columns += [c for c in optional if any(c[0] in row for row in rows)]
    lines = [format_table(rows, columns, digits=1, markdown=True)]
    busy = [r for r in rows if "gpu_utilization" in r]
    if busy:
        seconds = sum(r["seconds"] for r in busy)
        mean = sum(r["gpu_utilization"] * r["seconds"] for r in busy) / max(seconds, 1e-9)
        lines.append(
            f"\nGPU utilisation over the {len(busy)} stage(s) that sampled it: {mean:.1f} % "
            f"(weighted by wall-clock, {seconds / 60:.1f} min), from the driver's counter "
            "once a second."
        )
    return lines
