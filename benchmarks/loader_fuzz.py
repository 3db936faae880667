"""Fuzz the one image loader: mutated bytes of real JPEG/PNG/HEIC (and WebP, GIF, TIFF, BMP)
files, for a given time; reports how many inputs were tried, loaded, refused cleanly
(``ImageLoadError``), and any crash, hang or other exception.

Each input is decoded by ``trainer.images.load_image`` in a worker process with a memory cap;
the parent gives each input ``--limit`` seconds, and a worker that dies (a crash in a C
decoder) or runs over (a hang) is replaced and the input saved under ``--save``.

    python benchmarks/loader_fuzz.py --seconds 600 [--limit 10] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

from _common import REAL_DATA

MEMORY_CAP = 3 << 30  # a worker that asks for more gets MemoryError (refused), not the machine's memory


def seed_files() -> dict[str, bytes]:
    """Real photos where the shared data has them, plus one file per format and mode drawn here."""
    import numpy as np
    from PIL import Image

    from trainer.images import HEIF_SUPPORTED

    seeds: dict[str, bytes] = {}
    for p in sorted(REAL_DATA.rglob("*.jpg"))[:6] if REAL_DATA.is_dir() else []:
        seeds[f"real-{p.name}"] = p.read_bytes()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    variants = {
        "jpeg": (rgb, "JPEG", {"quality": 85}),
        "jpeg-progressive": (rgb, "JPEG", {"progressive": True}),
        "jpeg-exif": (rgb, "JPEG", {"exif": _exif_rotated()}),
        "png-rgba": (rgb.convert("RGBA"), "PNG", {}),
        "png-palette": (rgb.convert("P"), "PNG", {"transparency": 0}),
        "png-16bit": (Image.fromarray(rng.integers(0, 65535, (40, 40), dtype=np.uint16)), "PNG", {}),
        "webp": (rgb, "WEBP", {}),
        "gif": (rgb.convert("P"), "GIF", {}),
        "tiff": (rgb, "TIFF", {"compression": "tiff_deflate"}),
        "bmp": (rgb, "BMP", {}),
    }
    if HEIF_SUPPORTED:
        variants["heic"] = (rgb, "HEIF", {"quality": 80})
    for name, (img, fmt, kw) in variants.items():
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        seeds[name] = buf.getvalue()
    return seeds


def _exif_rotated() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    return exif.tobytes()


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of ``data``: truncation, bit flips, a header edit, or a splice."""
    b = bytearray(data)
    kind = rng.choice(["truncate", "bitflip", "bitflip", "header", "header", "splice", "zero-run"])
    if kind == "truncate":
        b = b[: rng.randrange(0, len(b))]
    elif kind == "bitflip":
        for _ in range(rng.choice([1, 2, 4, 16, 64])):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "header":  # sizes, markers, chunk lengths live in the first bytes
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(min(len(b), 512))
            b[i] = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    elif kind == "splice":  # a slice repeated or moved: lengths no longer match contents
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        k = rng.randrange(len(b))
        b = b[:k] + b[i:j] + b[k:]
    else:
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 256)] = bytes(rng.randint(1, 256))
    return kind, bytes(b)


def worker(conn: Connection) -> None:
    import warnings

    from trainer.images import ImageLoadError, load_image

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    except (ImportError, ValueError, OSError):  # Windows: no rlimit; macOS may refuse RLIMIT_AS
        pass
    warnings.simplefilter("ignore")  # Pillow's "Corrupt EXIF data" etc.: thousands of lines
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # libtiff & co. print their complaints on fd 2
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            img = load_image(path)
            conn.send(("loaded", f"{img.width}x{img.height}"))
        except ImageLoadError as exc:
            conn.send(("refused", str(exc)[:80]))
        except BaseException as exc:  # noqa: BLE001 - any other exception is what we hunt for
            conn.send(("other", f"{type(exc).__name__}: {str(exc)[:120]}"))


class Worker:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child,), daemon=True)
        self.proc.start()

    def ask(self, path: str, limit: float) -> tuple[str, str]:
        self.conn.send(path)
        if not self.conn.poll(limit):
            return "hang", f"no answer in {limit:g} s"
        try:
            return self.conn.recv()
        except EOFError:
            return "crash", f"worker died (exit code {self.proc.exitcode})"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.join(5)


def fuzz(seconds: float, limit: float, seed: int, save: Path) -> dict:
    seeds = seed_files()
    names = sorted(seeds)
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="loader-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    outcomes: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    others: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    slowest = 0.0
    w = Worker()
    (tmp / "warm.png").write_bytes(seeds["png-rgba"])
    w.ask(str(tmp / "warm.png"), 120)  # warm up: imports, decoder registration
    start = time.monotonic()
    n = 0
    try:
        while time.monotonic() - start < seconds:
            name = rng.choice(names)
            kind, data = mutate(seeds[name], rng)
            suffix = {"heic": ".heic"}.get(name, ".jpg" if "jpeg" in name or name.startswith("real") else ".img")
            path = tmp / f"input{suffix}"
            path.write_bytes(data)
            t0 = time.monotonic()
            outcome, detail = w.ask(str(path), limit)
            slowest = max(slowest, time.monotonic() - t0)
            n += 1
            outcomes[outcome] += 1
            by_kind[kind] += 1
            if outcome == "refused":
                reasons[detail.split(":")[0]] += 1
            if outcome in ("hang", "crash", "other"):
                others[f"{outcome}: {detail}"] += 1
                save.mkdir(parents=True, exist_ok=True)
                (save / f"{outcome}-{n:06d}-{name}-{kind}{suffix}").write_bytes(data)
            if outcome in ("hang", "crash"):
                w.stop()
                w = Worker()
    finally:
        w.stop()
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    elapsed = time.monotonic() - start
    return {"seconds": round(elapsed, 1), "tried": n, "per_second": round(n / elapsed, 1),
            "loaded": outcomes["loaded"], "refused_cleanly": outcomes["refused"],
            "other_exceptions": outcomes["other"], "crashes": outcomes["crash"], "hangs": outcomes["hang"],
            "slowest_s": round(slowest, 3), "limit_s": limit, "seeds": names, "mutations": dict(by_kind),
            "top_refusals": dict(reasons.most_common(8)), "problems": dict(others.most_common(20)),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--limit", type=float, default=10, help="seconds one input may take (else: a hang)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default="loader-fuzz-findings", help="folder for inputs that crash, hang or raise")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rep = fuzz(args.seconds, args.limit, args.seed, Path(args.save))
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        print(f"{rep['tried']} inputs in {rep['seconds']} s ({rep['per_second']}/s): {rep['loaded']} loaded, "
              f"{rep['refused_cleanly']} refused cleanly, {rep['other_exceptions']} other exceptions, "
              f"{rep['crashes']} crashes, {rep['hangs']} hangs (limit {rep['limit_s']} s, slowest "
              f"{rep['slowest_s']} s)")
        print(f"seeds: {', '.join(rep['seeds'])}")
        print(f"refusals: {rep['top_refusals']}")
        for problem, count in rep["problems"].items():
            print(f"  {count} x {problem}")
    return 1 if rep["other_exceptions"] or rep["crashes"] or rep["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
