"""`train-classifier`, `train-segmenter` and `evaluate`: the inference networks (App. A.4/5)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nodecode.cli.common import (
    JSON_HELP,
    TRAIN_WORKERS_HELP,
    add_compile_argument,
    add_workers_argument,
    config_from_args,
    write_json,
)
from nodecode.data.datasets import DATASET_HELP
from nodecode.models import list_models
from nodecode.train.tasks import INPUTS, SCHEDULES, TaskTrainConfig
from nodecode.utils.precision import PRECISIONS


def _common(p: argparse.ArgumentParser, task: str) -> None:
    d = TaskTrainConfig(task=task)
    p.add_argument(
        "--model",
        required=True,
        choices=[m for m in list_models() if m.endswith("-d") == (task != "classification")],
    )
    p.add_argument(
        "--input",
        default=None,
        choices=INPUTS,
        help="latent for cResNets (default), decoded or rgb for ResNets",
    )
    p.add_argument("--data", default=d.data, help=DATASET_HELP)
    p.add_argument("--latents", default=None, help="encode-dataset output (latent/decoded)")
    p.add_argument("--width", type=float, default=d.width, help="channel multiplier")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="base learning rate (default: paper's)")
    p.add_argument(
        "--schedule",
        default=d.schedule,
        choices=SCHEDULES,
        help="paper: the paper's step/poly decay; cosine: warm-up + cosine, for short runs",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="hold out this last fraction of the training set: rounds evaluate on it, the "
        "test set once at the end (default 0: test every round, as the paper's curves)",
    )
    p.add_argument(
        "--no-test",
        dest="score_test",
        action="store_false",
        help="never score the test split (choosing hyperparameters on --val-fraction)",
    )
    p.add_argument("--fashion-mnist", default=None)
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="crop size for folder layouts (default 224 / 320, the paper's)",
    )
    p.add_argument(
        "--init",
        default=None,
        help="classifier checkpoint: the backbone of a segmenter (§5.3), or a classifier to "
        "train further (§6.1's 9 more epochs)",
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="run directory")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.add_argument("--resume", action="store_true")
    add_workers_argument(p, TRAIN_WORKERS_HELP)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--precision",
        default=d.precision,
        choices=PRECISIONS,
        help="bf16: forward passes under bf16 autocast (weights, SGD and loss in fp32)",
    )
    p.add_argument(
        "--crop",
        type=int,
        default=None,
        help="train on random crops of this many pixels, on the latent grid, of inputs encoded "
        "larger (the paper: 224 of 256), and evaluate on the centre crop",
    )
    p.add_argument(
        "--channels-last",
        action="store_true",
        help="channels-last memory for the network (faster convolutions on GPUs)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-classifier", help="train a (c)ResNet classifier (App. A.4)")
    _common(p, "classification")
    p.add_argument("--epochs", type=int, default=TaskTrainConfig.epochs)
    p.set_defaults(run=run_train, task="classification")

    p = subparsers.add_parser("train-segmenter", help="train a DeepLab v2 segmenter (App. A.5)")
    _common(p, "segmentation")
    p.add_argument("--iters", type=int, default=TaskTrainConfig.iters)
    p.add_argument("--eval-every", type=int, default=TaskTrainConfig.eval_every)
    p.set_defaults(run=run_train, task="segmentation")

    p = subparsers.add_parser("evaluate", help="top-1/top-5 or mIoU of a trained checkpoint")
    p.add_argument("checkpoint", help="shipped task model name or checkpoint path")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.add_argument("--data", default=None, help="dataset spec (default: the training one)")
    p.add_argument("--latents", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: evaluate under bf16 autocast, to check it keeps the metrics",
    )
    add_compile_argument(p)
    p.set_defaults(run=run_evaluate)


def run_train(args: argparse.Namespace) -> None:
    from nodecode.models import reads_latents
    from nodecode.train.tasks import train_task

    default_input = "latent" if reads_latents(args.model) else "rgb"
    config = config_from_args(TaskTrainConfig, args, input=args.input or default_input)
    final = train_task(config, args.out, resume=args.resume, device=args.device)
    if final:  # the main rank's final metrics
        print(json.dumps(final))
        write_json(args.json, {"run": str(args.out), **final})


def run_evaluate(args: argparse.Namespace) -> None:
    from nodecode.evaluate.tasks import evaluate_checkpoint
    from nodecode.models.inference import for_inference
    from nodecode.models.zoo import load_task

    model, info = load_task(args.checkpoint, args.device)
    # --compile runs the network as classify --compile does, to check it keeps the metrics.
    network = for_inference(model, compile=True) if args.compile else model
    metrics = evaluate_checkpoint(
        network, info, args.data, args.latents, args.device, args.precision
    )
    for key, value in metrics.items():
        if isinstance(value, list):
            print(
                f"{key}: "
                + ", ".join(f"{c} {v:.1f}" for c, v in zip(info.class_names, value, strict=True))
            )
        else:
            print(f"{key}: {value:.2f}")
    write_json(
        args.json, {"checkpoint": str(args.checkpoint), "precision": args.precision, **metrics}
    )
