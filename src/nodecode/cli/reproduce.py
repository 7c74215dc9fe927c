"""`nodecode reproduce`: every experiment of the paper, resumable, ending in a report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import time
from pathlib import Path

from nodecode.reproduce.gupta import GUPTA_PRESETS
from nodecode.reproduce.presets import PRESETS, get_preset, with_learning_rates
from nodecode.utils.tables import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="run the paper's experiments (codecs, classifiers, segmenters, joint training) "
        "and write report/REPORT.md",
    )
    p.add_argument(
        "--preset",
        choices=sorted([*PRESETS, *GUPTA_PRESETS]),
        default="tiny",
        help="the paper's experiments (tiny, small, paper) or Gupta et al.'s (gupta-*)",
    )
    p.add_argument(
        "-o", "--out", type=Path, default=None, help="work directory (default: reproduce-PRESET)"
    )
    p.add_argument(
        "--codecs",
        default=None,
        help="shipped codec family for the tiny/small presets: paper (default) or small, "
        "the earlier width-0.5 (quicker) codecs",
    )
    p.add_argument(
        "--decoded",
        choices=("store", "on-the-fly"),
        default=None,
        help="latent caches keep the decoded images (store; tiny, small) or the decoded-image "
        "networks decode each batch where they run (on-the-fly; paper: a sixth of the disk)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="the classifiers' learning rate instead of the preset's (tiny, small)",
    )
    p.add_argument(
        "--seg-lr",
        type=float,
        default=None,
        help="the segmenters' learning rate instead of the preset's (tiny, small)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, its cost and each stage's state (done in --out, or in the "
        "--import-results files, with its test score) without running or writing anything",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="choose the preset's classifier and segmenter learning rates on its validation "
        "split (seed 0, a grid around the preset's; the test split is never scored) and write "
        "report/TUNING.md",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--only",
        default=None,
        help="run only stages of these kinds, comma-separated (e.g. codec: train the codecs "
        "where a GPU is, the rest elsewhere); the report waits for every stage",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="discard finished stages in --out that were made with other settings (e.g. "
        "small-joint's 9-epoch joint training over small's 2-epoch one); without it, such "
        "a clash stops the run before anything starts",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop cleanly after this many seconds (codec training checkpoints and resumes)",
    )
    p.add_argument(
        "--import-results",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS_JSON",
        help="take finished stages from another run's results.json (its report's, or its "
        "--out folder's while unfinished) where their settings match; a stage whose files a "
        "stage still to run needs runs again here. Repeatable; later files win",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from nodecode.reproduce.plan import build_plan

    if args.preset in GUPTA_PRESETS:
        run_gupta(args)
        return

    preset = get_preset(args.preset, args.codecs)
    if args.decoded is not None:
        preset = dataclasses.replace(preset, store_decoded=args.decoded == "store")
    preset = with_learning_rates(preset, args.lr, args.seg_lr)
    out = args.out or Path(f"reproduce-{preset.name}")
    if args.tune:
        run_tuning(args, preset, out)
        return
    stages = build_plan(preset)
    if args.dry_run:
        print_plan(preset, stages, out, _saved_results(args))
        return
    check_disk(stages, out)
    from nodecode.reproduce.records import forget, lacking_files
    from nodecode.reproduce.report import files_read, write_report

    start = time.time()
    results = _run_stages(args, stages, out)
    if not _all_done(stages, results, start):
        return
    if lacking := lacking_files(stages, out, files_read(stages)):
        # Imported from a run elsewhere: the report draws from their files, so make them here.
        print(f"the report reads the files of {len(lacking)} imported stage(s): running them")
        forget(out, lacking)
        results = _run_stages(args, stages, out)
        if not _all_done(stages, results, start):
            return
    command = f"nodecode reproduce --preset {preset.name} --out {shlex.quote(str(out))}"
    if args.codecs:
        command += f" --codecs {args.codecs}"
    if args.decoded:
        command += f" --decoded {args.decoded}"
    command += _lr_options(args)
    report = write_report(preset, stages, results, out, command)
    print(f"{len(stages)} stages done in {time.time() - start:.0f} s; report: {report}")


def _lr_options(args: argparse.Namespace) -> str:
    pairs = (("--lr", args.lr), ("--seg-lr", args.seg_lr))
    return "".join(f" {option} {value:g}" for option, value in pairs if value is not None)


def run_tuning(args: argparse.Namespace, preset, out: Path) -> None:
    from nodecode.reproduce.tuning import build_tuning_plan, tune, write_tuning_report

    if args.dry_run:  # the first grid; it grows while the best lies at an edge
        _print_stages(preset, build_tuning_plan(preset), out, _saved_results(args))
        return
    start = time.time()

    def run(stages):
        results = _run_stages(args, stages, out)
        return results if _all_done(stages, results, start) else None

    choices = tune(preset, run)
    if choices is None:
        return
    command = f"nodecode reproduce --preset {preset.name} --tune{_lr_options(args)}"
    command += f" --out {shlex.quote(str(out))}"
    report = write_tuning_report(preset, list(choices), out, command)
    for choice in choices:
        verdict = "the preset's" if choice.agrees else f"preset: {choice.preset_lr:g}"
        print(f"{choice.kind} lr: {choice.lr:g} ({verdict})")
    print(f"tuning done in {time.time() - start:.0f} s; report: {report}")


def _print_stages(preset, stages, out: Path, saved: dict) -> None:
    from nodecode.reproduce.records import stage_state

    print(f"preset {preset.name}: {preset.description}; {len(stages)} stages in {out}/\n")
    rows = [
        {
            "stage": s.name,
            "what": s.describe(),
            "state": stage_state(out, s, saved),
        }
        for s in stages
    ]
    print(format_table(rows, [("stage", "stage"), ("what", "what"), ("state", "state")]))
    print(_progress(rows))


def run_gupta(args: argparse.Namespace) -> None:
    from nodecode.errors import ConfigError
    from nodecode.reproduce.gupta import build_gupta_plan, write_gupta_report

    for option, given in (("--codecs", args.codecs), ("--lr", args.lr), ("--seg-lr", args.seg_lr)):
        if given is not None:
            raise ConfigError(f"{option} applies to the paper's presets, not to gupta-*")
    if args.tune:
        raise ConfigError("--tune applies to the tiny and small presets, not to gupta-*")
    preset = GUPTA_PRESETS[args.preset]
    stages = build_gupta_plan(preset)
    out = args.out or Path(f"reproduce-{preset.name}")
    if args.dry_run:  # the cost estimates cover the paper's plan only
        _print_stages(preset, stages, out, _saved_results(args))
        return
    start = time.time()
    results = _run_stages(args, stages, out)
    if not _all_done(stages, results, start):
        return
    command = f"nodecode reproduce --preset {preset.name} --out {shlex.quote(str(out))}"
    report = write_gupta_report(preset, results, out, command)
    print(f"{len(stages)} stages done in {time.time() - start:.0f} s; report: {report}")


def _run_stages(args: argparse.Namespace, stages: list, out: Path) -> dict:
    """The stages not done yet, run as the command line asks (device, --only, time limit,
    --replace); the results of every stage done come back."""
    from nodecode.reproduce.records import import_results
    from nodecode.reproduce.runner import run_plan

    saved = _saved_results(args)
    if saved:
        imported = import_results(stages, out, saved)
        print(f"imported {len(imported)} finished stage(s) of {len(stages)} into {out}")
    return run_plan(
        stages,
        out,
        args.device,
        kinds=_kinds(args),
        time_limit=args.time_limit,
        replace=args.replace,
    )


def _saved_results(args: argparse.Namespace) -> dict:
    """The stages finished elsewhere that --import-results names, later files winning."""
    from nodecode.reproduce.records import read_results

    saved: dict = {}
    for path in getattr(args, "import_results", []):
        saved |= read_results(path)
    return saved


def _kinds(args: argparse.Namespace) -> set[str] | None:
    from nodecode.errors import ConfigError
    from nodecode.reproduce.runner import RUNNERS

    if args.only is None:
        return None
    kinds = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = sorted(kinds - set(RUNNERS))
    if unknown or not kinds:
        raise ConfigError(
            f"--only {args.only}: unknown stage kind {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(sorted(RUNNERS))}"
        )
    return kinds


def _all_done(stages, results: dict, start: float) -> bool:
    """Whether every stage is done; if not, say how far the run got (no report yet)."""
    if len(results) == len(stages):
        return True
    print(
        f"{len(results)} of {len(stages)} stages done ({time.time() - start:.0f} s this run); "
        "run again to continue — the report is written once every stage is done"
    )
    return False


def check_disk(stages, out: Path) -> None:
    """Refuse to start a plan whose latent caches cannot fit where they would be written."""
    from nodecode.errors import ConfigError
    from nodecode.reproduce.estimate import storage_bytes
    from nodecode.reproduce.records import load_result

    needed = sum(storage_bytes(s) for s in stages if not load_result(out, s))
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise ConfigError(
            f"the plan's latent caches need {needed / 1e9:.1f} GB and {existing} has "
            f"{free / 1e9:.1f} GB free; choose another --out (see --dry-run)"
        )


def _progress(rows: list[dict]) -> str:
    done = sum(r["state"].startswith("done") for r in rows)
    elsewhere = sum(r["state"].startswith("done elsewhere") for r in rows)
    where = f" ({elsewhere} of them in the --import-results files)" if elsewhere else ""
    return f"\n{done} of {len(rows)} stages done{where}"


def _device_time(hours: float) -> str:
    """A plan's H100 time in the unit that shows it: the paper's hours, a small preset's
    minutes (which rounded to "0 H100-hours")."""
    return f"{hours:.0f} H100-hours" if hours >= 1 else f"{hours * 60:.1f} H100-minutes"


def print_plan(preset, stages, out: Path, saved: dict | None = None) -> None:
    from nodecode.reproduce.estimate import (
        H100_MACS_PER_S,
        estimate,
        memory_bytes,
        storage_bytes,
    )
    from nodecode.reproduce.records import stage_state

    rows = []
    for stage in stages:
        forward, total = estimate(stage, preset)
        stored = storage_bytes(stage)
        rows.append(
            {
                "stage": stage.name,
                "kind": stage.kind,
                "what": stage.describe(),
                "data": stage.params.get("data", stage.params.get("classification", "")),
                "gmacs": forward / 1e9 if forward else None,
                "train_pmacs": total / 1e15 if total else None,
                "disk_gb": stored / 1e9 if stored else None,
                "ram_gb": memory_bytes(stage) / 1e9 or None,
                "h100_h": total / H100_MACS_PER_S / 3600 if total else None,
                "state": stage_state(out, stage, saved),
            }
        )
    print(f"preset {preset.name}: {preset.description}; {len(stages)} stages in {out}/\n")
    columns = [
        ("stage", "stage"),
        ("what", "what"),
        ("data", "data"),
        ("gmacs", "GMACs/image"),
        ("train_pmacs", "PMACs"),
        ("disk_gb", "disk GB"),
        ("ram_gb", "RAM GB"),
        ("h100_h", "H100 h"),
        ("state", "state"),
    ]
    print(format_table(rows, columns, digits=3))
    print(_progress(rows))
    total = sum(r["train_pmacs"] or 0 for r in rows)
    disk = sum(r["disk_gb"] or 0 for r in rows)
    hours = sum(r["h100_h"] or 0 for r in rows)
    ram = max((r["ram_gb"] or 0 for r in rows), default=0)
    print(
        f"\nestimated training compute: {total:.3f} PMACs (≈3× forward per image seen; "
        f"encode stages: an encode pass, and a decode pass where the cache keeps decoded "
        f"images); latent caches: {disk:.1f} GB on disk, "
        f"memory-mapped (RAM GB: targets and data in flight, at most {ram:.1f} GB a stage); "
        f"≈ {_device_time(hours)} at an assumed "
        f"{H100_MACS_PER_S / 1e12:.0f} TMAC/s effective (not measured; on small images "
        "per-step overheads, not MACs, set a GPU's pace)"
    )
