"""Gupta et al.'s comparison: which latent of a hyperprior codec is easiest to learn from?

For each quality of CompressAI's `bmshj2018-hyperprior` (trained here on the photo corpus,
or taken from CompressAI's zoo): cResNet-39 on ŷ, on σ̂ and on both (the two-branch stem),
ResNet-50 on the decoded images, all on the same encoded data; ResNet-50 on the original
images; and the paper's codec at a matched rate (cResNet-39 on its latent). The rate of
every codec is measured from real `.ndc` files of the test images.

Their joint training: each quality's codec and its ŷ+σ̂ classifier fine-tuned together
(`train-joint` on a CompressAI codec), then re-encoded and evaluated, on its own row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nodecode.reproduce.plan import Stage, assign_keys, classifier_params, stage_adder
from nodecode.reproduce.records import Results
from nodecode.reproduce.results import mean_std_text
from nodecode.reproduce.stage_id import StageId

LATENT_RUNS = (("cresnet39", "y"), ("cresnet39", "sigma"), ("cresnet39", "y+sigma"))
DECODED_RUN = ("resnet50", "decoded")


@dataclass(frozen=True)
class GuptaPreset:
    name: str
    data: str  # classification data spec
    arch: str
    qualities: tuple[int, ...]
    codec_steps: int  # 0: CompressAI's zoo weights (needs them cached or a network)
    codec_data: str
    codec_crop: int
    codec_batch: int
    paper_codecs: tuple[str, ...]  # shipped codecs of the paper on the same table
    width: float
    epochs: int
    lr: float | None
    schedule: str
    seeds: tuple[int, ...]
    rate_images: int  # test images compressed to real files to measure bpp
    joint_epochs: int  # Gupta et al.'s joint training of codec and ŷ+σ̂ classifier (0: none)
    image_size: int | None = None
    description: str = ""
    # Codec training beyond CompressAI's defaults (lr 1e-4, fp32); None/"fp32" leave the
    # stage's parameters, and so its key, as they were.
    codec_lr: float | None = None
    codec_precision: str = "fp32"
    # Hold out this last fraction of the training set: classifiers report it every round and
    # score the test split once, at the end (0: test every round; only then left out of the
    # stages' parameters, so earlier runs keep their keys).
    val_fraction: float = 0.0
    # (quality, paper codec): that paper codec again, its files capped (rate control) at the
    # rate measured for the hyperprior at that quality, so the two latents meet at one bpp.
    matched: tuple[tuple[int, str], ...] = ()


GUPTA_PRESETS = {
    "gupta-tiny": GuptaPreset(
        name="gupta-tiny",
        data="fashion-scenes:mini",
        arch="bmshj2018-hyperprior",
        qualities=(1, 3),
        codec_steps=200,
        codec_data="photos:train",
        codec_crop=128,
        codec_batch=8,
        paper_codecs=("paper-0.0983",),
        width=0.125,
        epochs=2,
        lr=0.2,
        schedule="cosine",
        seeds=(0,),
        rate_images=16,
        joint_epochs=1,
        description="a smoke run of every stage (minutes; codecs barely trained)",
    ),
    "gupta-small": GuptaPreset(
        name="gupta-small",
        data="fashion-scenes:small",
        arch="bmshj2018-hyperprior",
        qualities=(1, 2, 3),
        codec_steps=20_000,
        codec_data="photos:train",
        codec_crop=256,
        codec_batch=16,
        paper_codecs=("paper-0.0983", "paper-0.330"),
        width=0.125,
        epochs=4,
        lr=0.2,
        schedule="cosine",
        seeds=(0, 1, 2),
        rate_images=256,
        joint_epochs=9,
        val_fraction=0.1,
        matched=((1, "paper-0.330"), (2, "paper-0.635"), (3, "paper-0.635")),
        description="fashion-scenes:small, three qualities, 3 seeds for the headline rows",
    ),
}


# What this 2-core CPU finishes (83 min on one thread): the codecs briefly trained (bf16,
# 128² crops), two epochs of joint training.
GUPTA_PRESETS["gupta-cpu"] = replace(
    GUPTA_PRESETS["gupta-small"],
    name="gupta-cpu",
    qualities=(1, 3),
    matched=((1, "paper-0.330"), (3, "paper-0.635")),
    codec_steps=2_500,
    codec_crop=128,
    codec_batch=8,
    codec_lr=5e-4,
    codec_precision="bf16",
    joint_epochs=2,
    val_fraction=0.0,  # as it ran for docs/RESULTS.md §8a (its lr 0.2 was not tuned on one)
    description="gupta-small's data and networks with codecs trained for 2,500 steps on a CPU",
)


GUPTA_PRESETS["gupta-zoo"] = replace(
    GUPTA_PRESETS["gupta-small"],
    name="gupta-zoo",
    codec_steps=0,
    description="as gupta-small with CompressAI's pretrained weights (NODECODE_DOWNLOAD=1)",
)


# Gupta et al.'s own datasets, in their released layouts (data/folders.py), at 224².
for _name, _data in (("minc", "minc:data/minc-2500"), ("resisc45", "resisc45:data/NWPU-RESISC45")):
    GUPTA_PRESETS[f"gupta-{_name}"] = replace(
        GUPTA_PRESETS["gupta-small"],
        name=f"gupta-{_name}",
        data=_data,
        image_size=224,
        width=1.0,
        epochs=28,
        lr=None,
        schedule="paper",
        description=f"Gupta et al.'s {_name.upper()} setting ({_data}), paper-width networks",
    )


def _classifier(preset: GuptaPreset, model: str, input: str, seed: int) -> dict[str, Any]:
    params = classifier_params(preset, preset.data, model, input, seed)
    return params | {"val_fraction": preset.val_fraction} if preset.val_fraction else params


def build_gupta_plan(preset: GuptaPreset) -> list[Stage]:
    stages: list[Stage] = []
    add = stage_adder(stages)

    encode = {"classification": preset.data, "image_size": preset.image_size}
    rate = {"data": preset.data, "images": preset.rate_images, "image_size": preset.image_size}
    for label in _labels(preset):
        if label in preset.paper_codecs:
            codec = add(StageId("codec", label), "codec", {"spec": label})
            runs = [("cresnet39", "latent")]
        else:
            quality = int(label[1:])
            if preset.codec_steps:
                params = {"arch": preset.arch, "quality": quality, "data": preset.codec_data}
                params |= {"max_steps": preset.codec_steps, "crop": preset.codec_crop}
                params |= {"batch_size": preset.codec_batch}
                if preset.codec_lr is not None:
                    params["lr"] = preset.codec_lr
                if preset.codec_precision != "fp32":
                    params["precision"] = preset.codec_precision
            else:
                params = {"spec": f"compressai:{preset.arch}:{quality}"}
            codec = add(StageId("codec", label), "codec", params)
            runs = [*LATENT_RUNS, DECODED_RUN]
        add(StageId("rate", label), "rate", rate, codec)
        encoded = add(StageId("encode", label), "encode", encode, codec)
        for model, input in runs:
            for seed in preset.seeds:
                params = _classifier(preset, model, input, seed)
                add(_classifier_id(label, model, input, seed), "classifier", params, encoded)
        if preset.joint_epochs and label not in preset.paper_codecs:
            seed = preset.seeds[0]
            base = _classifier_id(label, "cresnet39", "y+sigma", seed)
            # γ = 1: CompressAI's loss is already λ·255²·MSE + bpp, on the scale of the CE.
            params = {"data": preset.data, "epochs": preset.joint_epochs, "mode": "joint"}
            params["gamma"] = 1.0
            joint = add(StageId("joint", label), "joint", params, codec, base)
            add(StageId("rate", label, variant="joint"), "rate", rate, joint)
            reencoded = add(StageId("encode", label, variant="joint"), "encode", encode, joint)
            evaluate = StageId("eval", label, variant="joint")
            add(evaluate, "evaluate", {"task": "classification"}, joint, reencoded)
    for quality, paper in preset.matched:
        codec = StageId("codec", paper)
        if paper not in preset.paper_codecs:
            add(codec, "codec", {"spec": paper})
        variant, target = f"at-q{quality}", StageId("rate", f"q{quality}")
        capped = {"capped": True}  # at the bpp its rate dependency measured
        add(StageId("rate", paper, variant=variant), "rate", rate | capped, codec, target)
        encoded = StageId("encode", paper, variant=variant)
        add(encoded, "encode", encode | capped, codec, target)
        for seed in preset.seeds:
            params = _classifier(preset, "cresnet39", "latent", seed)
            cls = _classifier_id(paper, "cresnet39", "latent", seed, variant)
            add(cls, "classifier", params, encoded)
    for seed in preset.seeds:
        params = _classifier(preset, "resnet50", "rgb", seed)
        add(_classifier_id("rgb", "resnet50", "rgb", seed), "classifier", params)
    return assign_keys(stages)


def _classifier_id(
    label: str, model: str, input: str, seed: int, variant: str | None = None
) -> StageId:
    """On original RGB the input is implied by the codec label ("rgb")."""
    input_word = None if label == "rgb" else input
    return StageId("cls", label, model, input_word, seed=seed, variant=variant)


def gupta_table(preset: GuptaPreset, results: Results) -> str:
    """Top-1 per codec and input, mean ± std over seeds; bpp from real files."""
    inputs = [*(i for _, i in LATENT_RUNS), "latent", DECODED_RUN[1]]
    lines = [
        "| codec | bpp (files) | " + " | ".join(_column(i) for i in inputs) + " |",
        "|---" * (len(inputs) + 2) + "|",
    ]
    for label in _labels(preset):
        codec = results[StageId("codec", label)]
        name = codec.get("name") or codec["codec"]
        cells = []
        for input in inputs:
            model = DECODED_RUN[0] if input == DECODED_RUN[1] else "cresnet39"
            values = _top1s(preset, results, label, model, input)
            cells.append(mean_std_text(values) if values else "—")
        bpp = results[StageId("rate", label)]["bpp"]
        lines.append(f"| {name} | {bpp:.3f} | " + " | ".join(cells) + " |")
        if (joint := results.get(StageId("eval", label, variant="joint"))) is not None:
            top1 = mean_std_text([joint["metrics"]["top1"]])
            cells = [top1 if i == "y+sigma" else "—" for i in inputs]
            bpp = results[StageId("rate", label, variant="joint")]["bpp"]
            lines.append(f"| {name}, joint | {bpp:.3f} | " + " | ".join(cells) + " |")
    for quality, paper in preset.matched:
        variant = f"at-q{quality}"
        values = _top1s(preset, results, paper, "cresnet39", "latent", variant)
        cells = [mean_std_text(values) if values and i == "latent" else "—" for i in inputs]
        bpp = results[StageId("rate", paper, variant=variant)]["bpp"]
        name = f"{paper} capped at q{quality}'s rate"
        lines.append(f"| {name} | {bpp:.3f} | " + " | ".join(cells) + " |")
    rgb = [
        results[_classifier_id("rgb", "resnet50", "rgb", s)]["metrics"]["top1"]
        for s in preset.seeds
    ]
    lines.append("| original RGB | 24 | " + "— | " * (len(inputs) - 1) + mean_std_text(rgb) + " |")
    return "\n".join(lines)


def _top1s(
    preset: GuptaPreset,
    results: Results,
    label: str,
    model: str,
    input: str,
    variant: str | None = None,
) -> list[float]:
    """Top-1 of one table cell's classifiers, over the seeds that ran."""
    return [
        r["metrics"]["top1"]
        for s in preset.seeds
        if (r := results.get(_classifier_id(label, model, input, s, variant)))
    ]


def _labels(preset: GuptaPreset) -> list[str]:
    """One per codec: `q1`… for the hyperprior's qualities, then the paper's codecs."""
    return [f"q{q}" for q in preset.qualities] + list(preset.paper_codecs)


def _column(input: str) -> str:
    return {
        "y": "cResNet-39 on ŷ",
        "sigma": "cResNet-39 on σ̂",
        "y+sigma": "cResNet-39 on ŷ+σ̂",
        "latent": "cResNet-39 on ẑ (paper codec)",
        "decoded": "ResNet-50 on decoded",
    }[input]


def write_gupta_report(preset: GuptaPreset, results: Results, out: Path, command: str) -> Path:
    from nodecode.utils.io import atomic_write_text

    text = (
        f"# Gupta et al.'s comparison — preset `{preset.name}`\n\n"
        f"Regenerate: `{command}` ({preset.description}). Classification top-1 (%) on "
        f"`{preset.data}` test images, mean ± std over seeds {list(preset.seeds)}; bpp is "
        f"the mean over {preset.rate_images} test images of real `.ndc` files.\n\n"
        + gupta_table(preset, results)
        + '\n\n"joint" rows: the codec and its ŷ+σ̂ classifier fine-tuned together '
        f"({preset.joint_epochs} epochs, γ·rate-distortion + cross-entropy, Gupta et al.'s "
        "setup), re-encoded and evaluated on the new codec's files' latents.\n"
    )
    path = out / "report" / "GUPTA.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
