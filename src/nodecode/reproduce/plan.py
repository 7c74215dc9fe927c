"""The reproduction as a list of stages, each keyed by a hash of its configuration.

A stage names its dependencies; its key covers its own parameters and its dependencies'
keys, so changing anything upstream reruns exactly what depends on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nodecode.reproduce.presets import LOWEST, OPS, ReproducePreset
from nodecode.reproduce.stage_id import EQUAL_RATE, FINE_TUNING, StageId

KINDS = (
    "codec",
    "encode",
    "rate",
    "classifier",
    "segmenter",
    "joint",
    "evaluate",
    "rate-distortion",
)


@dataclass
class Stage:
    id: StageId
    kind: str
    params: dict[str, Any]
    deps: tuple[StageId, ...] = ()
    key: str = field(default="", compare=False)
    # The paper codec's operating point a stage works at (None: original RGB, or not one
    # point), for cost estimates; outside the key so keys stay as they were.
    op: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.id.name

    def describe(self) -> str:
        p = self.params
        if self.kind in ("classifier", "segmenter"):
            length = f"{p['epochs']} epochs" if self.kind == "classifier" else f"{p['iters']} it"
            crops = f", {p['crop']}² crops" if p.get("crop") else ""
            what = f"{p['model']} on {p['input']}, {length}{crops}"
            lr = f", lr {p['lr']:g}" if p.get("lr") is not None else ""
            return f"{what}, {p['schedule']}{lr}, seed {p['seed']}"
        if self.kind == "joint":
            return f"{p['mode']} fine-tuning, {p['epochs']} epochs"
        if self.kind == "codec":
            if "spec" in p:
                return p["spec"]
            what = (
                f"--arch {p['arch']} --quality {p['quality']}" if "arch" in p else f"--op {p['op']}"
            )
            return f"train-codec {what}, {p['max_steps']} steps"
        capped = f", capped at {self.deps[1].name}'s bpp" if p.get("capped") else ""
        if self.kind == "rate":
            return f"bpp of {p['images']} test images' .ndc files{capped}"
        if self.kind == "encode":
            stored = (
                "latents + decoded RGB"
                if self.params.get("store_decoded", True)
                else "latents (decoded per batch later)"
            )
            return f"encode {self.deps[0].name}'s {stored}{capped}"
        return ", ".join(f"{k}={v}" for k, v in p.items())


def _key(stage: Stage, keys: dict[StageId, str]) -> str:
    blob = json.dumps(
        {"kind": stage.kind, "params": stage.params, "deps": [keys[d] for d in stage.deps]},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class ClassifierRecipe(Protocol):
    """What a preset fixes for its classifiers (the paper's and Gupta et al.'s alike)."""

    @property
    def width(self) -> float: ...
    @property
    def epochs(self) -> int: ...
    @property
    def lr(self) -> float | None: ...
    @property
    def schedule(self) -> str: ...
    @property
    def image_size(self) -> int | None: ...


def classifier_params(
    recipe: ClassifierRecipe, data: str, model: str, input: str, seed: int
) -> dict[str, Any]:
    """A classifier stage's parameters, which its key hashes."""
    return {
        "task": "classification",
        "model": model,
        "input": input,
        "data": data,
        "width": recipe.width,
        "epochs": recipe.epochs,
        "lr": recipe.lr,
        "schedule": recipe.schedule,
        "seed": seed,
        "image_size": recipe.image_size,
    }


def task_params(preset: ReproducePreset, task: str, model: str, input: str, seed: int) -> dict:
    # Only a preset with a validation split (or mixed precision) puts it in the params, so
    # the others keep their keys.
    extra: dict[str, Any] = {"val_fraction": preset.val_fraction} if preset.val_fraction else {}
    if preset.precision != "fp32":
        extra |= {"precision": preset.precision, "channels_last": True}
    if task == "classification":
        if preset.classification_crop and input != "rgb":  # crops of the larger encode
            extra |= {"crop": preset.classification_crop}
        return classifier_params(preset, preset.classification_data, model, input, seed) | extra
    return extra | {
        "task": task,
        "model": model,
        "input": input,
        "data": preset.segmentation_data,
        "width": preset.width,
        "iters": preset.seg_iters,
        "eval_every": preset.seg_eval_every,
        "lr": preset.seg_lr,
        "batch_size": preset.seg_batch,
        "schedule": preset.seg_schedule,
        "seed": seed,
        "image_size": preset.image_size,
    }


def stage_adder(stages: list[Stage]) -> Callable[..., StageId]:
    """`add(id, kind, params, *deps, op=None)`: append a stage to `stages`, return its id."""

    def add(id: StageId, kind: str, params: dict, *deps: StageId, op: str | None = None) -> StageId:
        stages.append(Stage(id, kind, params, tuple(deps), op=op))
        return id

    return add


def build_plan(preset: ReproducePreset) -> list[Stage]:
    stages: list[Stage] = []
    add = stage_adder(stages)

    def classifier(
        id: StageId, input: str, seed: int, *deps: StageId, op: str | None, **extra
    ) -> StageId:
        assert id.model is not None
        params = {**task_params(preset, "classification", id.model, input, seed), **extra}
        return add(id, "classifier", params, *deps, op=op)

    def segmenter(id: StageId, input: str, seed: int, *deps: StageId, op: str | None) -> StageId:
        assert id.model is not None
        params = task_params(preset, "segmentation", id.model, input, seed)
        return add(id, "segmenter", params, *deps, op=op)

    data = {"classification": preset.classification_data, "segmentation": preset.segmentation_data}
    encode_params: dict = {**data, "image_size": preset.image_size}
    if not preset.store_decoded:  # only then in the params, so other presets keep their keys
        encode_params["store_decoded"] = False
    if preset.classification_crop:  # encoded larger, for random crops on the latent grid
        encode_params["classification_size"] = preset.classification_crop * 8 // 7
    for op in OPS:
        if preset.codec_steps:
            params = {"op": op, "max_steps": preset.codec_steps}
            if preset.codec_data:  # crops drawn afresh from the images, at native scale
                params |= {"data": preset.codec_data, "min_scale": 1.0}
            if preset.precision != "fp32":
                params["precision"] = preset.precision
        else:
            params = {"spec": f"{preset.codec_prefix}-{op}"}
        codec = add(StageId("codec", op), "codec", params, op=op)
        encoded = add(StageId("encode", op), "encode", encode_params, codec, op=op)
        runs = [("cresnet51", "latent", preset.seeds), ("resnet50", "decoded", preset.seeds)]
        runs.append(("cresnet39", "latent", preset.seeds[:1]))
        if op == LOWEST:
            runs += [("resnet71", "decoded", preset.seeds[:1])]
            runs += [("cresnet72", "latent", preset.seeds[:1])]
        for model, input, seeds in runs:
            for seed in seeds:
                cls = classifier(StageId("cls", op, model, seed=seed), input, seed, encoded, op=op)
                seg = StageId("seg", op, f"{model}-d", seed=seed)
                segmenter(seg, input, seed, encoded, cls, op=op)
    for seed in preset.seeds:
        cls = classifier(StageId("cls", "rgb", "resnet50", seed=seed), "rgb", seed, op=None)
        segmenter(StageId("seg", "rgb", "resnet50-d", seed=seed), "rgb", seed, cls, op=None)

    finetuned = []
    for op in preset.joint_ops:
        for seed in preset.joint_seeds:
            # The first seed keeps the names and keys of single-seed runs (finished stages
            # of an earlier run are reused); the others are suffixed -sN.
            s = None if seed == preset.seeds[0] else seed
            base = StageId("cls", op, "cresnet51", seed=seed)
            joint_params = {"data": preset.classification_data, "epochs": preset.joint_epochs}
            if s is not None:
                joint_params["seed"] = seed
            if (precision := preset.joint_precision or preset.precision) != "fp32":
                joint_params["precision"] = precision
            arms = []
            for mode in FINE_TUNING:
                params = {**joint_params, "mode": mode}
                ft = add(
                    StageId(mode, op, seed=s), "joint", params, StageId("codec", op), base, op=op
                )
                arms.append(ft)
                # Its rate-distortion points, measured now: the figure needs only these, so
                # a run resumed elsewhere from imported results needs no fine-tuned weights.
                finetuned.append(
                    add(
                        StageId("rate-distortion", op, variant=mode, seed=s),
                        "rate-distortion",
                        {"images": preset.rd_images},
                        ft,
                        op=op,
                    )
                )
                encoded = add(
                    StageId("encode", op, variant=mode, seed=s), "encode", encode_params, ft, op=op
                )
                if mode == "joint":
                    params = {"task": "classification"}
                    eval_id = StageId("eval", op, variant=mode, seed=s)
                    cls = add(eval_id, "evaluate", params, ft, encoded, op=op)
                else:
                    scratch = classifier(
                        StageId("cls", op, "cresnet51", variant="comp", seed=s),
                        "latent",
                        seed,
                        encoded,
                        op=op,
                    )
                    # §6.1: then 9 more epochs (the joint schedule) on the fixed operating point.
                    cls = classifier(
                        StageId("cls", op, "cresnet51", variant="comp-more", seed=s),
                        "latent",
                        seed,
                        encoded,
                        scratch,
                        op=op,
                        epochs=preset.joint_epochs,
                        lr=0.0025,
                        schedule="finetune",
                    )
                seg = StageId("seg", op, "cresnet51-d", variant=mode, seed=s)
                segmenter(seg, "latent", seed, encoded, cls, op=op)
            # The arms land at different rates, so claim 4 also compares their image quality
            # with both rate-controlled to one file size per image.
            add(
                StageId("rate-distortion", op, variant=EQUAL_RATE, seed=s),
                "rate-distortion",
                {"images": preset.rd_images, "equal_rate": preset.equal_rate_margin},
                *arms,
                op=op,
            )
    add(
        StageId("rate-distortion"),
        "rate-distortion",
        {"images": preset.rd_images},
        *[StageId("codec", op) for op in OPS],
        *finetuned,
    )
    return assign_keys(stages)


def assign_keys(stages: list[Stage]) -> list[Stage]:
    """Key every stage by its parameters and its dependencies' keys, in order."""
    keys: dict[StageId, str] = {}
    for stage in stages:
        stage.key = keys[stage.id] = _key(stage, keys)
    return stages
