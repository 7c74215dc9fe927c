"""`nodecode data build|info|show` and `nodecode encode-dataset`."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from nodecode.cli.common import (
    CODEC_HELP,
    JSON_HELP,
    cached_codec,
    config_from_args,
    rate_target,
    write_json,
)
from nodecode.data.datasets import DATASET_HELP
from nodecode.data.fashion_scenes import PRESETS, TASKS, FashionScenes, build
from nodecode.data.photo_corpus import CorpusConfig


def _scenes_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="small", choices=sorted(PRESETS))
    p.add_argument("--fashion-mnist", default=None, help="folder with the Fashion-MNIST idx files")


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="fashion-scenes benchmark; natural-photo corpus")
    verbs = data.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser(
        "photos", help="codec training corpus: multi-scale crops of offline photos, split by photo"
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="corpus directory to write")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a directory of your own photos instead of the Debian wallpapers + package photos",
    )
    corpus = CorpusConfig()
    p.add_argument("--crop", type=int, default=corpus.crop)
    p.add_argument("--crops-per-photo", type=int, default=corpus.crops_per_photo)
    p.add_argument("--min-scale", type=float, default=corpus.min_scale)
    p.add_argument("--eval-long-side", type=int, default=corpus.eval_long_side)
    p.add_argument("--seed", type=int, default=corpus.seed)
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP + " (images per split)")
    p.set_defaults(run=run_photos)
    p = verbs.add_parser("build", help="generate every split into the cache")
    _scenes_args(p)
    p.set_defaults(run=run_build)
    p = verbs.add_parser("info", help="sizes and class balance")
    _scenes_args(p)
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP)
    p.set_defaults(run=run_info)
    p = verbs.add_parser("show", help="a grid of images with mask overlays")
    _scenes_args(p)
    p.add_argument("--task", default="segmentation", choices=TASKS)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("-o", "--out", type=Path, required=True)
    p.set_defaults(run=run_show)

    p = subparsers.add_parser("encode-dataset", help="encode a dataset once into latent shards")
    p.add_argument("--codec", required=True, help=CODEC_HELP)
    p.add_argument("--data", default="fashion-scenes:small", help=DATASET_HELP)
    p.add_argument("--task", default="classification", choices=TASKS)
    p.add_argument("--image-size", type=int, default=None, help="crop size for folder layouts")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--fashion-mnist", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--no-decoded",
        dest="store_decoded",
        action="store_false",
        help="store latents only (paper codecs): networks on decoded images then decode each "
        "batch where they run, from the codec named by --codec (about a sixth of the disk)",
    )
    p.add_argument(
        "--bpp",
        type=rate_target,
        default=None,
        help="store each image's symbols as its file capped at this rate would hold them "
        "(rate control; paper codecs): e.g. one codec at another codec's rate",
    )
    p.add_argument("--json", type=Path, default=None, help=JSON_HELP + " (the shards written)")
    p.set_defaults(run=run_encode)


def run_photos(args: argparse.Namespace) -> None:
    from nodecode.data.photo_corpus import build_corpus, corpus_summary, folder_photos

    photos = folder_photos(args.data) if args.data is not None else None
    manifest = build_corpus(args.out, photos, config_from_args(CorpusConfig, args))
    counts = corpus_summary(manifest)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {s} images" for s, n in counts.items()))
    write_json(args.json, {"corpus": str(args.out), "images": counts})


def run_build(args: argparse.Namespace) -> None:
    for task in TASKS:
        for split in ("train", "test"):
            print(build(args.preset, task, split, args.fashion_mnist, args.download))


def run_info(args: argparse.Namespace) -> None:
    from nodecode.data.fashion_scenes import SEGMENTATION_CLASSES

    splits = []
    for task in TASKS:
        for split in ("train", "test"):
            data = FashionScenes(args.preset, split, task, args.fashion_mnist, args.download)
            counts = torch.bincount(data.targets.flatten(), minlength=data.num_classes)
            share = (100.0 * counts / counts.sum()).tolist()
            unit = "images" if task == "classification" else "pixels"
            size = data.images.shape[-1]
            print(f"{task}/{split}: {len(data)} images of {size}x{size}; class share of {unit}:")
            names = SEGMENTATION_CLASSES if task == "segmentation" else SEGMENTATION_CLASSES[1:]
            print("  " + ", ".join(f"{n} {s:.1f}%" for n, s in zip(names, share, strict=True)))
            splits.append(
                {"task": task, "split": split, "images": len(data), "size": size, "unit": unit}
                | {"class_share": dict(zip(names, share, strict=True))}
            )
    write_json(args.json, {"preset": args.preset, "splits": splits})


def run_show(args: argparse.Namespace) -> None:
    from nodecode.evaluate.figures import plot_scene_grid

    data = FashionScenes(args.preset, args.split, args.task, args.fashion_mnist, args.download)
    plot_scene_grid(data, args.out)
    print(f"wrote {args.out}")


def run_encode(args: argparse.Namespace) -> None:
    from nodecode.data.datasets import image_splits
    from nodecode.data.latent_cache import encode_dataset

    codec = cached_codec(args.codec, args.device)
    # Encoded once, so no random augmentation: center crops for folder layouts.
    data = image_splits(args.task, args.data, args.image_size, args.fashion_mnist, augment=False)
    written = []
    for split, dataset in (("train", data.train), ("test", data.test)):
        for path in encode_dataset(
            codec,
            dataset,
            args.out,
            args.task,
            split,
            classes=data.classes,
            store_decoded=args.store_decoded,
            codec_spec=args.codec,
            bpp=args.bpp,
        ):
            print(f"wrote {path}")
            written.append(str(path))
    write_json(args.json, {"codec_id": codec.identity().hex(), "shards": written})
