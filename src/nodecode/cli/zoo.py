"""`nodecode zoo`: the shipped codecs and task models, from their headers alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nodecode.cli.common import JSON_HELP, write_json
from nodecode.utils.tables import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "zoo", help="the shipped codecs and task models, and how they were made"
    )
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.set_defaults(run=run)


def codec_rows() -> list[dict[str, Any]]:
    from nodecode.codec.zoo import (
        HYPERPRIOR_RECIPE,
        SHIPPED_COMPRESSAI,
        CodecWeights,
        default_codecs,
        shipped_compressai,
        shipped_compressai_training,
    )

    defaults = set(default_codecs())
    rows = []
    for weights in CodecWeights:
        name, info = weights.value.spec, weights.info
        training = info.training
        rows.append(
            {
                "name": name,
                "default": name in defaults,
                "nominal_bpp": info.config.nominal_bpp,
                "width": info.config.width,
                "latent_channels": info.config.latent_channels,
                "upsampling": info.config.upsampling,
                "data": training.get("data"),
                "steps": training.get("steps"),
                "device": training.get("device"),
                "wall_clock_s": training.get("wall_clock_s"),
                "recipe": weights.value.recipe,
            }
        )
    for name in shipped_compressai():  # CompressAI's architectures, trained here
        training = shipped_compressai_training(name)
        rows.append(
            {
                "name": name,
                "default": False,
                "nominal_bpp": None,
                "width": None,
                "latent_channels": None,
                "upsampling": SHIPPED_COMPRESSAI[name].removeprefix("compressai:"),
                "data": training.get("data"),
                "steps": training.get("steps"),
                "device": training.get("device"),
                "wall_clock_s": training.get("wall_clock_s"),
                "recipe": HYPERPRIOR_RECIPE,
            }
        )
    return rows


def task_model_rows() -> list[dict[str, Any]]:
    from nodecode.models.zoo import TaskModelWeights

    rows = []
    for weights in TaskModelWeights:
        name, info = weights.value.spec, weights.info
        metrics = {k: v for k, v in info.metrics.items() if isinstance(v, int | float)}
        rows.append(
            {
                "name": name,
                "network": info.model,
                "task": info.task,
                "input": info.input,
                "width": info.width,
                "codec": info.codec,
                "codec_id": info.codec_id,
                "data": info.data,
                "classes": info.num_classes,
                "metrics": metrics,
                "recipe": weights.value.recipe,
            }
        )
    return rows


def run(args: argparse.Namespace) -> None:
    codecs, models = codec_rows(), task_model_rows()
    print("codecs (nodecode compress --codec NAME)")
    codec_columns = [
        ("name", "name"),
        ("nominal_bpp", "nominal bpp"),
        ("width", "width"),
        ("latent_channels", "C"),
        ("upsampling", "decoder"),
        ("data", "trained on"),
        ("steps", "steps"),
        ("device", "device"),
    ]
    print(format_table(codecs, codec_columns, digits=4, markdown=args.markdown))
    print("\ntask models (nodecode classify|segment --model NAME)")
    shown = [
        {**row, "score": ", ".join(f"{k} {v:.1f}" for k, v in row["metrics"].items())}
        for row in models
    ]
    model_columns = [
        ("name", "name"),
        ("network", "network"),
        ("task", "task"),
        ("input", "input"),
        ("codec", "codec"),
        ("data", "data"),
        ("score", "test metrics"),
    ]
    print(format_table(shown, model_columns, digits=3, markdown=args.markdown))
    if models:
        print(f"\ntask models made by: {models[0]['recipe']}")
    write_json(args.json, {"codecs": codecs, "task_models": models})
