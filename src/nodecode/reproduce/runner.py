"""Run a plan: skip finished stages, resume an interrupted one, record each result.

A stage is finished when stages/<name>/result.json exists with the stage's current key;
a directory left by a different key is cleared first, since its checkpoints belong to
another configuration. After each stage, `out/results.json` holds every finished stage's
result, so a run can go on elsewhere from it (`records.import_results`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from nodecode.errors import ConfigError
from nodecode.reproduce.plan import Stage
from nodecode.reproduce.records import (
    RESULT,
    Results,
    finished_elsewise,
    load_result,
    stage_dir,
    write_results,
)
from nodecode.train.runtime import device_name
from nodecode.utils.gpu_usage import GpuUsage
from nodecode.utils.io import atomic_write_text

if TYPE_CHECKING:
    from nodecode.codec.zoo import Codec


class StageIncomplete(Exception):
    """A stage stopped at its time limit; its checkpoints let the next run resume it."""


def run_plan(
    stages: list[Stage],
    out: Path,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    kinds: set[str] | None = None,
    time_limit: float | None = None,
    replace: bool = False,
) -> Results:
    """Run the stages not done yet, in order. `kinds` runs only stages of those kinds (e.g.
    the codecs on a machine with a GPU, the rest elsewhere); `time_limit` (seconds) stops
    cleanly before a new stage or inside codec training, to resume on the next run. The
    results of the stages done so far come back either way. A finished stage of the same
    name but other settings (another preset or lr in the same `out`) is discarded only with
    `replace`; otherwise nothing runs."""
    todo = [s for s in stages if kinds is None or s.kind in kinds]
    if not replace and (clash := finished_elsewise(out, todo)):
        names = ", ".join(s.name for s in clash[:4]) + (", …" if len(clash) > 4 else "")
        raise ConfigError(
            f"{out}: {len(clash)} finished stage(s) were made with other settings ({names}); "
            "running would discard them. Use another --out, or --replace to discard them"
        )
    results: Results = {}
    deadline = None if time_limit is None else time.time() + time_limit
    for stage in tqdm(stages, desc="reproduce", unit="stage"):
        done = load_result(out, stage)
        if done is not None:
            results[stage.id] = done
            continue
        if kinds is not None and stage.kind not in kinds:
            continue
        missing = [d for d in stage.deps if d not in results]
        if missing:
            raise ConfigError(
                f"stage {stage.name} needs {', '.join(d.name for d in missing)}, which is not "
                "done; run those stages first (widen --only)"
            )
        remaining = None if deadline is None else deadline - time.time()
        if remaining is not None and remaining <= 0:
            log(f"time limit reached before {stage.name}; run again to continue")
            break
        folder = stage_dir(out, stage)
        marker = folder / "key"
        if folder.exists() and (not marker.is_file() or marker.read_text() != stage.key):
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(stage.key)
        log(f"[{stage.name}] {stage.describe()}")
        start = time.time()
        deps = [results[d] for d in stage.deps]
        try:
            with GpuUsage(device) as usage:
                if stage.kind == "codec":  # the one kind that trains in time-limited chunks
                    result = _codec(stage, deps, folder, device, remaining)
                else:
                    result = RUNNERS[stage.kind](stage, deps, folder, device)
        except StageIncomplete as stop:
            log(f"[{stage.name}] {stop}; run again to resume it")
            break
        result.update(key=stage.key, kind=stage.kind, seconds=round(time.time() - start, 1))
        result.update(device=device_name(torch.device(device)), **usage.summary())
        atomic_write_text(folder / RESULT, json.dumps(result, indent=2) + "\n")
        results[stage.id] = result
        write_results(out, stages)
    write_results(out, stages)
    return results


def loader_workers(device: str) -> int:
    """DataLoader processes for a stage: 8 beside a GPU, which one process cannot keep fed;
    none on a CPU, where they would take the cores from training (and results stay
    bit-exact across resumes, augmentation drawing from the one process's RNG)."""
    return 8 if device.startswith("cuda") else 0


def _find(deps: list[dict[str, Any]], key: str) -> Any:
    return next((d[key] for d in deps if key in d), None)


def _codec(
    stage: Stage, deps: list, folder: Path, device: str, time_limit: float | None = None
) -> dict[str, Any]:
    if "spec" in stage.params:
        return {"codec": stage.params["spec"]}
    path = folder / "codec.safetensors"
    if "arch" in stage.params:  # a CompressAI model trained here
        from nodecode.train.compressai_codec import CompressAITrainConfig, train_compressai

        p = stage.params
        config = CompressAITrainConfig(**p, time_limit=time_limit)
        train_compressai(config, path, resume=True, device=device)
        _require_finished(path, config.max_steps)
        name = f"compressai:{p['arch']}:{p['quality']}"
        return {"codec": f"{name}:{path}", "name": name}
    from nodecode.train.codec import CodecTrainConfig, train_codec

    paper = CodecTrainConfig(
        **stage.params,
        name=stage.name,
        time_limit=time_limit,
        workers=loader_workers(device) if "data" in stage.params else 0,
    )
    train_codec(paper, path, resume=True, device=device)
    _require_finished(path, paper.max_steps)
    return {"codec": str(path)}


def _require_finished(codec_path: Path, max_steps: int) -> None:
    from nodecode.train.runtime import run_paths
    from nodecode.train.state import saved_step

    step = saved_step(run_paths(codec_path)[0])
    if step < max_steps:
        raise StageIncomplete(f"stopped at step {step:,} of {max_steps:,} (time limit)")


def _encode(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    from nodecode.codec.zoo import load_codec
    from nodecode.data.datasets import image_splits
    from nodecode.data.latent_cache import encode_dataset

    spec = _find(deps, "codec")
    codec = load_codec(spec, device).eval()
    store_decoded = stage.params.get("store_decoded", True)
    cap = _rate_cap(stage, deps)
    for task in ("classification", "segmentation"):
        if task not in stage.params:
            continue
        size = stage.params.get(f"{task}_size") or stage.params["image_size"]
        data = image_splits(task, stage.params[task], size, augment=False)
        for split, dataset in (("train", data.train), ("test", data.test)):
            encode_dataset(
                codec,
                dataset,
                folder,
                task,
                split,
                classes=data.classes,
                store_decoded=store_decoded,
                codec_spec=spec,
                bpp=cap,
            )
    return {"latents": str(folder), "codec_id": codec.identity().hex()}


def _rate_cap(stage: Stage, deps: list) -> float | None:
    """A `capped` stage's files are capped at the bpp its rate dependency measured (one
    codec at another's rate); other stages spend what each image needs."""
    return _find(deps, "bpp") if stage.params.get("capped") else None


def _rate(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    """Mean bpp of real `.ndc` files of the first test images (header included)."""
    from nodecode.codec.files import compressed_bytes
    from nodecode.codec.zoo import load_codec
    from nodecode.data.datasets import image_splits

    codec = load_codec(_find(deps, "codec"), device).eval()
    p, cap = stage.params, _rate_cap(stage, deps)
    test = image_splits("classification", p["data"], p["image_size"], augment=False).test
    count = min(p["images"], len(test))  # type: ignore[arg-type]
    bpps = []
    for i in range(count):
        image = test[i][0]
        data = compressed_bytes(codec, image, bpp=cap)
        bpps.append(8 * len(data) / (image.shape[-2] * image.shape[-1]))
    result: dict[str, Any] = {"bpp": sum(bpps) / count, "images": count}
    return result if cap is None else result | {"cap": cap}


def _task(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    from nodecode.train.tasks import TaskTrainConfig, train_task

    init = _find(deps, "model") or _find(deps, "classifier")
    config = TaskTrainConfig(
        **stage.params, latents=_find(deps, "latents"), init=init, workers=loader_workers(device)
    )
    final = train_task(config, folder, resume=True, device=device)
    return {"model": str(folder / "model.safetensors"), "metrics": final}


def _joint(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    from nodecode.train.joint import JointTrainConfig, train_joint

    mode = stage.params["mode"]
    config = JointTrainConfig(
        codec=_find(deps, "codec"),
        classifier=_find(deps, "model") if mode == "joint" else None,
        workers=loader_workers(device),
        **stage.params,
    )
    return train_joint(config, folder, resume=True, device=device)


def _evaluate(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    from nodecode.evaluate.tasks import evaluate_checkpoint
    from nodecode.models.checkpoint import load_task_model

    path = _find(deps, "classifier")
    model, info = load_task_model(path, device)
    metrics = evaluate_checkpoint(model, info, latents=_find(deps, "latents"), device=device)
    return {"model": path, "metrics": metrics}


def fine_tuned_codec(result: dict[str, Any]) -> Codec:
    """A joint or compression-only stage's codec, named after its stage (its header names
    the codec it started from)."""
    from nodecode.codec.zoo import load_codec

    codec = load_codec(result["codec"]).eval()
    codec.name = Path(result["codec"]).parent.name
    return codec


def _rate_distortion(stage: Stage, deps: list, folder: Path, device: str) -> dict[str, Any]:
    """One fine-tuned codec's points (a stage with a variant), the two fine-tuning arms at
    one rate (`equal_rate`), or every codec against the classical ones, fine-tuned codecs
    from their points."""
    from dataclasses import asdict

    from nodecode.codec.zoo import load_codec, paper_codec_only
    from nodecode.data.images import load_images
    from nodecode.evaluate.baselines import BASELINES
    from nodecode.evaluate.rate_distortion import (
        RDPoint,
        compare_codecs,
        evaluate_at_equal_rate,
        evaluate_codec,
    )

    images = load_images(stage.params["images"])
    if "equal_rate" in stage.params:  # the fine-tuning arms, rate-controlled to one rate
        arms = {
            id.step: paper_codec_only(fine_tuned_codec(result), "rate control")  # it picks centers
            for id, result in zip(stage.deps, deps, strict=True)
        }
        points = evaluate_at_equal_rate(list(arms.values()), images, stage.params["equal_rate"])
        return {
            "equal_rate": {
                arm: [asdict(p) for p in points[codec.name]] for arm, codec in arms.items()
            }
        }
    if stage.id.variant is not None:
        (arm,) = deps
        return {"points": [asdict(p) for p in evaluate_codec(fine_tuned_codec(arm), images)]}
    codecs = [load_codec(d["codec"]).eval() for d in deps if "points" not in d]
    measured = [RDPoint(**p) for d in deps for p in d.get("points", ())]
    rows = compare_codecs(codecs, images, BASELINES, folder, measured=measured)
    return {"rows": rows, "figure": str(folder / "rd.png")}


RUNNERS: dict[str, Callable[[Stage, list, Path, str], dict[str, Any]]] = {
    "codec": _codec,
    "encode": _encode,
    "rate": _rate,
    "classifier": _task,
    "segmenter": _task,
    "joint": _joint,
    "evaluate": _evaluate,
    "rate-distortion": _rate_distortion,
}
