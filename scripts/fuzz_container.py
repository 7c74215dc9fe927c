"""Structure-aware mutation of real `.ndc` files, CRCs recomputed, through the whole decode.

Each case mutates header fields (extreme and off-by-one values), payloads (cut, extended,
spliced, swapped, flipped) or both, recomputes the payload length and both checksums as an
attacker would, and reads the file with `read_symbols` and `decode_image` (`--compressai`:
a seeded bmshj2018-hyperprior's files through `read_latents` and `decompress_file`, the path
whose escapes cannot be turned off, docs/FORMAT.md). Cases run in a
worker process; a worker that dies is a crash, one silent for `--timeout` s is a hang, and
either is restarted after the case. Prints a table of outcomes and exits non-zero on any
crash, hang, uncaught exception, out-of-alphabet decode or memory above the bound.

.venv/bin/python scripts/fuzz_container.py --cases 10000
.venv/bin/python scripts/fuzz_container.py --cases 2000 --compressai
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

from nodecode.bitstream.container import (
    CRC,
    FIELDS,
    GEOMETRY,
    MAGIC,
    PREFIX,
    STRING_LENGTH,
    color_struct,
    layout,
)

# The header's numeric fields after the codec id, and their struct codes, from the container.
FIELD_NAMES = ("h", "w", "c", "lh", "lw", "centers", "payload_length")
FORMATS = dict(zip(FIELD_NAMES, FIELDS.format.removeprefix("<16s"), strict=True))
GEOMETRY_NAMES = ("stride", "align", "strings")  # version 3
CODECS = ("paper-0.0983", "paper-0.635")
SEED_IMAGES = {"coffee": (0, 0, 200, 304), "astronaut": (40, 100, 161, 233)}
# Decoding the image is skipped above this size: the budget, not the fuzzer, bounds it.
DECODE_IMAGE_PIXELS = 1 << 20


def compressai_codec(folder: Path) -> str:
    """A bmshj2018-hyperprior (quality 1) with seeded random weights: decoding's robustness
    does not depend on training, and no weights need downloading."""
    import torch
    from compressai.zoo import image_models

    path = folder / "hyperprior.pth"
    if not path.is_file():
        torch.manual_seed(0)
        model = image_models["bmshj2018-hyperprior"](quality=1, pretrained=False)
        torch.save(model.state_dict(), path)
    return f"compressai:bmshj2018-hyperprior:1:{path}"


def codec_names(folder: Path, compressai: bool) -> tuple[str, ...]:
    return (compressai_codec(folder),) if compressai else CODECS


def seed_files(folder: Path, compressai: bool = False) -> list[tuple[str, bytes]]:
    """Real files: every codec of the run on crops of two photos."""
    from nodecode.codec import load_codec
    from nodecode.codec.files import compress_image
    from nodecode.data.images import pil_to_tensor
    from nodecode.data.photos import load_photo

    seeds = []
    for codec_name in codec_names(folder, compressai):
        codec = load_codec(codec_name)
        for image_name, (y, x, h, w) in SEED_IMAGES.items():
            image = pil_to_tensor(load_photo(image_name))[:, y : y + h, x : x + w]
            path = folder / f"seed-{len(seeds)}.ndc"
            compress_image(codec, image, path)
            seeds.append((codec_name, path.read_bytes()))
    return seeds


def split(data: bytes) -> dict:
    """A real (valid) file's fields, so a mutation can rebuild it with any values."""
    at = layout(data)
    values = FIELDS.unpack_from(data, at.fields_at)
    color = None
    if at.color_at is not None:
        color = list(color_struct(at.version).unpack_from(data, at.color_at))
    geometry = lengths = None
    if at.geometry_at is not None:
        geometry = dict(
            zip(GEOMETRY_NAMES, GEOMETRY.unpack_from(data, at.geometry_at), strict=True)
        )
        lengths = [
            STRING_LENGTH.unpack_from(data, at.lengths_at + i * STRING_LENGTH.size)[0]
            for i in range(at.num_strings)
        ]
    payload = data[at.header_end : at.header_end + values[-1]]
    fields = dict(zip(("id", *FIELD_NAMES), values, strict=True))
    return {
        "version": at.version,
        "name": data[PREFIX.size : at.fields_at],
        "fields": fields,
        "color": color,
        "geometry": geometry,
        "lengths": lengths,
        "payload": payload,
    }


def build(parts: dict, fix_length: bool, fix_crcs: bool, original: bytes) -> bytes:
    f = parts["fields"]
    if fix_length:
        f["payload_length"] = len(parts["payload"])
        if parts["lengths"]:  # the last string takes up the rest
            parts["lengths"][-1] = max(len(parts["payload"]) - sum(parts["lengths"][:-1]), 0)
    head = PREFIX.pack(MAGIC, parts["version"] & 0xFF, len(parts["name"]) & 0xFF)
    head += parts["name"] + f["id"]
    for key in FIELD_NAMES:
        fmt = FORMATS[key]
        head += struct.pack("<" + fmt, f[key] % (1 << (8 * struct.calcsize(fmt))))
    if parts["version"] >= 2 and parts["color"] is not None:
        packing = color_struct(parts["version"])
        span = 1 << (8 * packing.size // 3)  # wraps a mutated value into the field's width
        head += packing.pack(*((v + span // 2) % span - span // 2 for v in parts["color"]))
    if parts["version"] >= 3 and parts["geometry"] is not None:
        g = parts["geometry"]
        head += GEOMETRY.pack(g["stride"] % 65536, g["align"] % 65536, g["strings"] % 256)
        head += b"".join(STRING_LENGTH.pack(n % (1 << 32)) for n in parts["lengths"])
    header_crc = zlib.crc32(head) if fix_crcs else zlib.crc32(original[: len(head)])
    payload = parts["payload"]
    return head + CRC.pack(header_crc) + payload + CRC.pack(zlib.crc32(payload))


def extreme(rng: random.Random, value: int, bits: int) -> int:
    top = (1 << bits) - 1
    choices = [0, 1, 2, 7, 8, 9, 255, 256, 4096, 65535, 1 << 16, 2**31 - 1, top, top - 1]
    choices += [value + 1, max(value - 1, 0), value * 2, value // 2, value * 64, value * 1000]
    return rng.choice(choices + [rng.randrange(top + 1)])


def mutate(rng: random.Random, seeds: list[tuple[str, bytes]], index: int) -> tuple[str, bytes]:
    codec_name, original = seeds[index % len(seeds)]
    parts = split(original)
    payload = bytearray(parts["payload"])
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(11)
        if kind <= 2:  # a header field
            key = rng.choice(FIELD_NAMES)
            bits = 8 * struct.calcsize(FORMATS[key])
            parts["fields"][key] = extreme(rng, parts["fields"][key], bits)
        elif kind == 3:  # geometry that stays self-consistent
            h, w = rng.choice([(1, 1), (8, 8), (4096, 4096), (8856, 8856), (65536, 2)])
            parts["fields"].update(h=h, w=w, lh=-(-h // 8), lw=-(-w // 8))
        elif kind == 4 and payload:  # cut
            del payload[rng.randrange(len(payload)) :]
        elif kind == 5:  # extend
            payload += bytes(rng.randrange(256) for _ in range(rng.choice([1, 3, 4, 64, 4096])))
        elif kind == 6:  # splice or swap with another real file
            other = split(rng.choice(seeds)[1])["payload"]
            cut = rng.randrange(len(payload) + 1)
            payload = payload[:cut] + other[rng.randrange(len(other)) :]
        elif kind == 7 and payload:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                payload[rng.randrange(len(payload))] = rng.randrange(256)
        elif kind == 8:  # version and colour
            parts["version"] = rng.choice([0, 1, 2, 3, 4, 255])
            if parts["color"] is not None:
                parts["color"] = [rng.randrange(-200, 200) for _ in range(3)]
        elif kind == 9 and parts["geometry"] is not None:  # stride, alignment, strings
            key = rng.choice(GEOMETRY_NAMES)
            parts["geometry"][key] = extreme(rng, parts["geometry"][key], 16)
            if key == "strings":  # as many lengths as claimed, up to a point
                n = parts["geometry"]["strings"] % 256
                parts["lengths"] = (parts["lengths"] + [rng.randrange(1 << 16)] * 300)[:n]
        elif kind == 10 and parts["lengths"]:  # string lengths
            i = rng.randrange(len(parts["lengths"]))
            parts["lengths"][i] = extreme(rng, parts["lengths"][i], 32)
    parts["payload"] = bytes(payload)
    data = build(parts, rng.random() < 0.8, rng.random() < 0.95, original)
    return codec_name, data


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(start: int, cases: int, seed: int, folder: Path, compressai: bool) -> None:
    """Run cases start… in this process, one JSON line per case on stdout."""
    import torch

    from nodecode.codec import load_codec
    from nodecode.codec.autoencoder import ConvAutoencoder
    from nodecode.codec.files import decode_image, decompress_file, read_latents, read_symbols
    from nodecode.errors import NodecodeError

    torch.set_num_threads(1)
    codecs = {name: load_codec(name) for name in codec_names(folder, compressai)}
    seeds = seed_files(folder, compressai)
    for codec_name, data in seeds:  # the legitimate decodes set the memory baseline
        path = folder / "legit.ndc"
        path.write_bytes(data)
        decompress_file(codecs[codec_name], path)
    print(json.dumps({"baseline_mb": peak_rss_mb()}), flush=True)
    for index in range(start, cases):
        rng = random.Random(f"{seed}:{index}")
        codec_name, data = mutate(rng, seeds, index)
        path = folder / "case.ndc"
        path.write_bytes(data)
        print(json.dumps({"case": index, "start": True}), flush=True)
        began = time.perf_counter()
        codec = codecs[codec_name]
        try:
            if not isinstance(codec, ConvAutoencoder):
                header, _ = read_latents(codec, path)
                if header.num_pixels <= DECODE_IMAGE_PIXELS:
                    decompress_file(codec, path)
                outcome = "decoded"
                raise _Done
            header, symbols = read_symbols(codec, path)
            if int(symbols.min()) < 0 or int(symbols.max()) >= codec.num_centers:
                outcome = "decoded out-of-alphabet symbols"
            else:
                if header.num_pixels <= DECODE_IMAGE_PIXELS:
                    decode_image(codec, header, symbols)
                outcome = "decoded"
        except _Done:
            pass
        except NodecodeError:
            outcome = "clean error"
        except Exception as error:  # noqa: BLE001 - the point is to find these
            outcome = f"uncaught {type(error).__name__}"
        seconds = time.perf_counter() - began
        result = {"case": index, "outcome": outcome, "s": seconds, "rss_mb": peak_rss_mb()}
        print(json.dumps(result), flush=True)


class _Done(Exception):
    """A case decoded; skip to recording it."""


class LineReader:
    """Lines from a pipe with a timeout (a buffered readline would hide lines from select)."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def next(self, timeout: float) -> str | None:
        """The next line; "" at end of stream; None if nothing came within `timeout` s."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return ""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode() + "\n"


def run(args: argparse.Namespace) -> int:
    outcomes: Counter[str] = Counter()
    baseline = peak = 0.0
    slowest = 0.0
    failures: list[int] = []
    next_case = 0
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        while next_case < args.cases:
            command = [sys.executable, __file__, "--worker", str(next_case), "--cases"]
            command += [str(args.cases), "--seed", str(args.seed), "--folder", tmp]
            command += ["--compressai"] if args.compressai else []
            child = subprocess.Popen(command, stdout=subprocess.PIPE)
            lines = LineReader(child.stdout.fileno())
            current = None
            while True:
                line = lines.next(args.timeout if current is not None else 600)
                if line is None:  # silent past the timeout inside a case: a hang
                    child.kill()
                    outcomes["hang"] += 1
                    failures.append(current)
                    next_case = current + 1
                    break
                if not line:
                    code = child.wait()
                    if current is not None:
                        outcomes[f"crash (exit {code})"] += 1
                        failures.append(current)
                        next_case = current + 1
                    else:
                        next_case = args.cases
                    break
                record = json.loads(line)
                if "baseline_mb" in record:
                    baseline = max(baseline, record["baseline_mb"])
                elif record.get("start"):
                    current = record["case"]
                else:
                    outcomes[record["outcome"]] += 1
                    peak = max(peak, record["rss_mb"])
                    slowest = max(slowest, record["s"])
                    if record["s"] > args.timeout or record["outcome"] not in (
                        "clean error",
                        "decoded",
                    ):
                        failures.append(record["case"])
                    current = None
                    done = sum(outcomes.values())
                    if done % 1000 == 0:
                        print(f"{done} cases: {dict(outcomes)}", file=sys.stderr, flush=True)
            child.wait()
    print("| outcome | cases |\n|---|---|")
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"| {outcome} | {count} |")
    print(f"\nslowest case {slowest:.2f} s; peak RSS {peak:.0f} MB", end=" ")
    print(f"(legitimate decodes: {baseline:.0f} MB)")
    bad = [o for o in outcomes if o not in ("clean error", "decoded")]
    too_big = peak > 2 * baseline
    if failures:
        print(f"failing cases (rerun with --seed {args.seed}): {failures[:20]}")
    return 1 if bad or too_big or slowest > args.timeout else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds before a hang")
    parser.add_argument(
        "--compressai", action="store_true", help="fuzz a CompressAI hyperprior's files instead"
    )
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.worker is not None:
        worker(args.worker, args.cases, args.seed, args.folder, args.compressai)
    else:
        sys.exit(run(args))


if __name__ == "__main__":
    main()
