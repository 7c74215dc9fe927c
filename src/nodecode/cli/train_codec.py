"""`nodecode train-codec`: train the paper's codec at one operating point (App. A.1), or a
CompressAI model at one quality (`--arch`, Gupta et al.'s backends)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodecode.cli.common import JSON_HELP, add_workers_argument, config_from_args, write_json
from nodecode.codec.config import OPERATING_POINTS, operating_point
from nodecode.errors import ConfigError
from nodecode.train.calibrate import CalibrationConfig
from nodecode.train.codec import CodecTrainConfig, train_codec
from nodecode.utils.precision import PRECISIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = CodecTrainConfig()
    p = subparsers.add_parser(
        "train-codec",
        help="train a codec: the paper's (Eq. 1, --op) or a CompressAI model (--arch)",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--op",
        choices=sorted(OPERATING_POINTS),
        help="the paper's codec at this operating point in bpp (sets C, Ht, β, lr)",
    )
    which.add_argument(
        "--arch",
        default=None,
        help="a CompressAI architecture (e.g. bmshj2018-hyperprior), trained with its λ table",
    )
    p.add_argument("--quality", type=int, default=1, help="--arch: CompressAI quality 1…8")
    p.add_argument("--aux-lr", type=float, default=None, help="--arch: lr of the auxiliary loss")
    p.add_argument("--lmbda", type=float, default=None, help="--arch: λ (default: CompressAI's)")
    p.add_argument(
        "--data",
        default=defaults.data,
        help="directory of images, photos:train (the photo corpus's sources) or skimage:train",
    )
    p.add_argument(
        "--min-scale",
        type=float,
        default=None,
        help="draw crops afresh from whole photos at random scales down to this factor "
        "(e.g. 0.125) instead of cropping the images as they are",
    )
    add_workers_argument(p, "DataLoader workers drawing multi-scale crops")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop cleanly after this many seconds (state and codec written; --resume goes on)",
    )
    p.add_argument("-o", "--out", required=True, help="codec checkpoint to write (.safetensors)")
    p.add_argument(
        "--json", type=Path, default=None, help=JSON_HELP + " (paper codecs: the training record)"
    )
    p.add_argument("--width", type=float, default=defaults.width, help="channel multiplier")
    p.add_argument(
        "--crop", type=int, default=None, help="training crop size (default: 224; --arch 256)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="default: 30; --arch 16")
    p.add_argument(
        "--lr", type=float, default=None, help="Adam lr (default: the paper's; --arch 1e-4)"
    )
    p.add_argument("--max-steps", type=int, default=defaults.max_steps)
    p.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    p.add_argument(
        "--table-batches",
        type=int,
        default=defaults.table_batches,
        help="batches of crops used to count symbols for the probability tables",
    )
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help="bf16 autocast (much faster on AMX CPUs and GPUs; weights stay fp32)",
    )
    p.add_argument(
        "--lr-decay-fraction",
        type=float,
        default=defaults.lr_decay_fraction,
        help="divide the lr by 10 for this final fraction of the steps (default: constant)",
    )
    p.add_argument(
        "--target-entropy",
        type=float,
        default=None,
        help="override the operating point's Ht (bits/symbol), e.g. to calibrate the rate",
    )
    p.add_argument(
        "--context-levels",
        type=int,
        default=defaults.context_levels,
        help="entropy coding in context, coarse to fine (0: every symbol under its channel's "
        "static table, as the paper)",
    )
    p.add_argument("--init", default=None, help="start from this codec checkpoint's weights")
    p.add_argument("--name", default=None, help="codec name stored in files (default: file stem)")
    p.add_argument("--resume", action="store_true", help="continue from the saved train state")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=run)

    calibration = CalibrationConfig()
    p = subparsers.add_parser(
        "calibrate-codec",
        help="fine-tune a codec until its files hit the nominal bpp on validation photos",
    )
    p.add_argument("--codec", required=True, help="trained codec checkpoint")
    p.add_argument("--op", choices=sorted(OPERATING_POINTS), required=True)
    p.add_argument("--data", required=True, help="training images for the fine-tuning steps")
    p.add_argument("--images", required=True, help="validation photos whose files are measured")
    p.add_argument(
        "--min-scale", type=float, default=None, help="as train-codec: multi-scale crops"
    )
    p.add_argument("-o", "--out", required=True, help="calibrated codec checkpoint to write")
    p.add_argument("--crop", type=int, default=defaults.crop)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--precision", choices=PRECISIONS, default=defaults.precision)
    p.add_argument("--tolerance", type=float, default=calibration.tolerance)
    p.add_argument("--rounds", type=int, default=calibration.rounds)
    p.add_argument("--steps", type=int, default=calibration.steps, help="fine-tuning per round")
    p.add_argument("--lr", type=float, default=calibration.lr)
    p.add_argument(
        "--folds",
        type=int,
        default=calibration.folds,
        help="measure each photo's rate under tables fitted on the other folds (0: as fitted)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP + " (every round)")
    p.set_defaults(run=run_calibrate)

    p = subparsers.add_parser(
        "fit-tables",
        help="refit a codec's entropy-coding tables on whole photos (weights and latents kept)",
    )
    p.add_argument("--codec", required=True, help="codec checkpoint or shipped name")
    p.add_argument("--images", required=True, help="training photos, e.g. photos:train")
    p.add_argument(
        "--context-levels",
        type=int,
        default=None,
        help="code in context at this many levels (default: as the codec does now)",
    )
    p.add_argument("-o", "--out", required=True, help="codec checkpoint to write")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.set_defaults(run=run_fit_tables)


def _given(args: argparse.Namespace, *names: str) -> dict:
    """Options the user set; the rest keep the chosen trainer's defaults."""
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def run(args: argparse.Namespace) -> None:
    if args.arch is not None:
        run_compressai(args)
        return
    name = args.name or Path(args.out).stem
    config = config_from_args(
        CodecTrainConfig,
        args,
        name=name,
        crop=args.crop or CodecTrainConfig.crop,
        batch_size=args.batch_size or CodecTrainConfig.batch_size,
    )
    codec = train_codec(config, args.out, resume=args.resume, device=args.device, init=args.init)
    print(f"wrote {args.out} (codec {codec.name!r}, id {codec.identity().hex()})")
    from nodecode.codec.checkpoint import read_codec_info

    info = read_codec_info(args.out)  # the training record, as written into the checkpoint
    record = {"checkpoint": str(args.out), "codec": codec.name, "training": info.training}
    write_json(args.json, record | {"codec_id": codec.identity().hex()})


def run_compressai(args: argparse.Namespace) -> None:
    from nodecode.train.compressai_codec import CompressAITrainConfig, train_compressai

    if not str(args.out).endswith(".safetensors"):
        raise ConfigError(f"-o {args.out}: CompressAI weights are written as .safetensors")
    names: tuple[str, ...] = ("crop", "batch_size", "lr", "aux_lr", "lmbda", "max_steps")
    names += ("checkpoint_every", "min_scale", "workers", "time_limit", "precision")
    config = CompressAITrainConfig(
        arch=args.arch,
        quality=args.quality,
        data=args.data,
        seed=args.seed,
        lr_decay_fraction=args.lr_decay_fraction,
        **_given(args, *names),
    )
    if args.max_steps == CodecTrainConfig.max_steps:  # the paper's 600k: not CompressAI's
        config.max_steps = CompressAITrainConfig.max_steps
    train_compressai(config, args.out, resume=args.resume, device=args.device)
    print(f"wrote {args.out}: use it as --codec compressai:{args.arch}:{args.quality}:{args.out}")


def run_calibrate(args: argparse.Namespace) -> None:
    from nodecode.codec.checkpoint import load_codec_checkpoint
    from nodecode.data.images import load_images
    from nodecode.train.calibrate import calibrate_rate, closest_round

    source = load_codec_checkpoint(args.codec)
    train = config_from_args(
        CodecTrainConfig,
        args,
        name=source.name,
        width=source.config.width,
        lr=None,
        max_steps=0,
        checkpoint_every=1 << 30,
        context_levels=source.config.context_levels,  # calibration keeps the coding
    )
    history = calibrate_rate(
        args.codec,
        train,
        load_images(args.images),
        args.out,
        config_from_args(CalibrationConfig, args),
        args.device,
    )
    kept = history[closest_round(history, operating_point(args.op).bpp)]
    ht = kept["target_entropy"]
    print(f"wrote {args.out}: round {kept['round']}, {kept['bpp']:.4f} bpp (Ht={ht:.4f})")
    write_json(args.json, {"checkpoint": str(args.out), "kept": kept, "rounds": history})


def run_fit_tables(args: argparse.Namespace) -> None:
    from nodecode.codec.checkpoint import save_codec
    from nodecode.codec.zoo import codec_info, load_codec, paper_codec_only
    from nodecode.data.images import load_images
    from nodecode.train.codec import refit_tables

    source = paper_codec_only(load_codec(args.codec, args.device), "fit-tables")
    codec = refit_tables(source, load_images(args.images), args.context_levels)
    training = dict(codec_info(args.codec).training)
    training["tables"] = {"images": args.images, "context_levels": codec.config.context_levels}
    save_codec(codec, args.out, training=training)
    print(f"wrote {args.out} (codec {codec.name!r}, id {codec.identity().hex()})")
    record = {"checkpoint": str(args.out), "codec": codec.name, "tables": training["tables"]}
    write_json(args.json, record | {"codec_id": codec.identity().hex()})
