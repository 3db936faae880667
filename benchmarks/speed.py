"""The speed suite: ratios measured in one run on this machine, and the machine they came from.

Usage: python benchmarks/speed.py [--only backends classify train sweep memory gui] [--files 100000]
                                  [--device auto|cpu|cuda]

1. classify end to end (decode + model + CSV, from the job's start event to its done event)
   / the fastest raw forward rate, for small JPEGs and for 12-megapixel JPEGs (threads and
   spawned decode processes; test-time augmentation off: one forward pass per photo, as in
   the raw rate);
2. each backend's raw forward rate (batch 32, 224 px) and its agreement with fp32 torch;
3. a cold 15-epoch training run (empty feature and backend caches) / a reference-style loop
   on the same photos (frozen backbone recomputed every batch, train and test evaluated every
   epoch), timed for two epochs: the first plus 14 like the second (its imports and set-up are
   not timed). Ours is the whole ``trainer train`` command, imports included, and also the same
   run as the app starts it, in its spare process (imports done before the click);
4. a 16-run sweep / one cold run;
5. peak memory of classify on 1,000 and 100,000 (tiny) files;
6. the GUI heartbeat while a training job runs (benchmarks/gui_heartbeat.py).

Real photos and the real MobileNetV2 file from ../shared when present, else demo drawings and
random weights (the rates hold, the accuracies mean nothing then).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _common import REAL_DATA, ROOT, mobilenet_weights, scratch_dir
from PIL import Image, ImageOps

from trainer.allocator import tune_malloc
from trainer.backends import Choice, OrtRunner, Selector, onnxruntime_available
from trainer.batches import ImageBatcher, default_workers
from trainer.engine import pick_device
from trainer.images import IMAGE_EXTENSIONS
from trainer.machine import cpu_name, native_bf16
from trainer.models import build_backbone
from trainer.preprocess import Preprocess

CROP = 224
ROWS: list[tuple[str, str, str]] = []  # (what, figure, goal)
DEVICE = torch.device("cpu")  # where the models run (--device); decoding is always on the CPU


def row(what: str, figure: str, goal: str = "") -> None:
    ROWS.append((what, figure, goal))
    print(f"- {what}: {figure}" + (f"  (goal: {goal})" if goal else ""), flush=True)


def machine() -> str:
    flags = set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = set(next(ln for ln in text.splitlines() if ln.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        pass
    shown = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni"})
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    import onnxruntime

    return (f"{cpu_name()}, {default_workers()} cores, flags {' '.join(shown) or '?'}, native bf16 "
            f"{native_bf16(torch.device('cpu'))}, GPU {gpu}; torch {torch.__version__}, onnxruntime "
            f"{onnxruntime.__version__}")


def photos(limit: int | None = None) -> list[Path]:
    root = REAL_DATA if REAL_DATA.is_dir() else None
    if root is None:
        from trainer.demo_data import make_demo_data

        root = make_demo_data(scratch_dir("demo"), per_class=100, size=160)
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    return found[:limit] if limit else found


def batch_of(paths: list[Path], n: int = 32) -> torch.Tensor:
    with ImageBatcher(Preprocess(232, CROP).transform()) as batcher:
        x, _, _ = batcher(paths[:n])
    assert x is not None
    return x.contiguous()


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def choices() -> list[Choice]:
    """Every backend the suite times on DEVICE (bf16 even where it is emulated: that is shown)."""
    dev = DEVICE.type
    found = [Choice("torch", "fp32", dev), Choice("torch", "bf16", dev)]
    return found + ([Choice("onnxruntime", "fp32", dev)] if onnxruntime_available(DEVICE) else [])


class Plain:
    """A backbone as a user would first run it: fp32, default memory format, on DEVICE."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.to(DEVICE)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(DEVICE))


def rate(fn, x: torch.Tensor, seconds: float = 4.0) -> tuple[float, torch.Tensor]:  # noqa: ANN001
    """Images/s of ``fn`` on ``x`` after a warm-up call, over at least one call and ~``seconds``."""
    out = fn(x)
    sync()
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        out = fn(x)
        sync()  # a GPU's work counts when it is done, not when it is queued
        calls += 1
    return calls * len(x) / (time.perf_counter() - start), out.float()


def backends_section(paths: list[Path], head_run: Path | None) -> float:
    """Raw forward rates of every backend for both backbones; returns MobileNetV2's fastest."""
    x = batch_of(paths)
    fastest = 0.0
    for name, weights in (("mobilenet_v2", mobilenet_weights()), ("resnet50", "none")):
        module = build_backbone(name, weights).eval()
        with torch.no_grad():
            plain, ref = rate(Plain(copy.deepcopy(module)), x)
        ref = ref.cpu()
        row(f"{name} raw forward, torch fp32 (default memory format)", f"{plain:.1f} img/s")
        sel = Selector(module, CROP, DEVICE, "auto", "auto")
        for what, runner in runners_to_time(sel):
            r, out = rate(runner, x)
            out = out.cpu()
            if isinstance(runner, OrtRunner) and runner.session.per_run:
                what += f", runs of {runner.session.per_run} image(s), one per core at a time (measured size)"
            cos = float(torch.nn.functional.cosine_similarity(ref, out, dim=1).min())
            rel = float((ref - out).abs().max() / ref.abs().max())
            row(f"{name} raw forward, {what}", f"{r:.1f} img/s = {r / plain:.2f}x plain; "
                f"features vs fp32: worst cosine {cos:.5f}, max rel. diff {rel:.1e}")
            if name == "mobilenet_v2":
                fastest = max(fastest, r)
    return fastest


def runners_to_time(sel: Selector) -> list[tuple[str, Any]]:
    """Every backend as the product builds it, and on the CPU onnxruntime's own layout too (one
    run with each operator split across the cores): the fastest raw rate is the best of all."""
    found = []
    for choice in choices():
        native = choice.precision == "fp32" or native_bf16(DEVICE)
        found.append((choice.text() + ("" if native else " (emulated: no native bf16)"), sel.build(choice)))
        if choice.backend == "onnxruntime" and DEVICE.type == "cpu":
            graph = sel.cache / f"{sel.key}.onnx"
            found.append((choice.text() + ", one run with its operators split across the cores",
                          OrtRunner(graph, choice, DEVICE, sel.key, parts=1)))
    return found


def trainer_cmd(*args: str, env: dict[str, str] | None = None) -> tuple[float, list[dict]]:
    """Run ``trainer ARGS --events``: wall seconds and the events."""
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "trainer", *args, "--device", DEVICE.type, "--events"],
                         capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=ROOT)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise RuntimeError(f"trainer {args[0]} failed: {res.stderr[-2000:]}")
    return wall, [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]


def settled(pid: int, quiet_s: float = 0.5) -> None:
    """Wait until process ``pid`` stops using the CPU (a spare process done with its imports)."""
    stat, last = Path(f"/proc/{pid}/stat"), -1
    if not stat.is_file():  # not Linux: the imports take ~2 s here
        time.sleep(10)
        return
    while True:
        time.sleep(quiet_s)
        fields = stat.read_text().rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        if used == last:
            return
        last = used


def spare_cmd(*args: str, env: dict[str, str] | None = None) -> tuple[float, list[dict]]:
    """``trainer ARGS --events`` as the desktop app runs it: in a spare process (``python -m
    trainer.warm``) whose imports were done before the job was asked for. Wall seconds from the
    request to the process's end, and the events."""
    proc = subprocess.Popen([sys.executable, "-m", "trainer.warm"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    settled(proc.pid)
    start = time.perf_counter()
    out, err = proc.communicate(json.dumps([*args, "--device", DEVICE.type, "--events"]) + "\n")
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"trainer {args[0]} (spare) failed: {err[-2000:]}")
    return wall, [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]


def pipeline_rate(events: list[dict]) -> tuple[float, int]:
    start = next(e for e in events if e["event"] == "start")
    done = next(e for e in events if e["event"] == "done")
    return done["rows"] / (done["time"] - start["time"]), done["rows"]


def classify_section(run: Path, paths: list[Path], fastest: float, tmp: Path) -> None:
    small = tmp / "small"
    small.mkdir()
    copies = max(1, 4500 // len(paths))
    for k in range(copies):
        for i, p in enumerate(paths):
            os.link(p, small / f"{k:02d}-{i:04d}{p.suffix}")
    for pool in ("threads", "processes"):
        wall, events = trainer_cmd("classify", str(run), str(small), "--out", str(tmp / "small.csv"), "--decode", pool,
                                   "--tta", "off")
        r, n = pipeline_rate(events)
        row(f"classify {n} small JPEGs ({pool}), end to end / fastest raw forward",
            f"{r:.1f} / {fastest:.1f} img/s = **{r / fastest:.0%}** (whole command {wall:.1f} s)", ">= 85%")
    big = tmp / "big"
    big.mkdir()
    for i, p in enumerate(paths[:48]):
        img = ImageOps.fit(Image.open(p).convert("RGB"), (4000, 3000))
        noise = Image.effect_noise((4000, 3000), 24).convert("RGB")
        Image.blend(img, noise, 0.08).save(big / f"big{i:02d}.jpg", quality=90)
    mb = sum(f.stat().st_size for f in big.iterdir()) / 48 / 1e6
    for k in range(1, 6):  # 288 files: the job's set-up is not what is measured
        for f in sorted(big.glob("big??.jpg")):
            os.link(f, big / f"{f.stem}-{k}.jpg")
    wall, events = trainer_cmd("classify", str(run), str(big), "--out", str(tmp / "big.csv"), "--tta", "off")
    r, n = pipeline_rate(events)
    row(f"classify {n} 12-MP JPEGs ({mb:.1f} MB each), end to end / fastest raw forward",
        f"{r:.1f} / {fastest:.1f} img/s = **{r / fastest:.0%}**", ">= 25%")


def variants(paths: list[Path], out: Path, root: Path, per_photo: int = 4) -> Path:
    """``per_photo`` distinct files per photo (mirrored or not, cropped by 0-35% margins): a larger
    dataset of real photos (near-duplicates cross train and val alike for both loops)."""
    for p in paths:
        img = Image.open(p).convert("RGB")
        w, h = img.size
        for k in range(per_photo):
            m = (k // 2) * 0.05
            v = img.crop((int(w * m / 2), int(h * m / 2), w - int(w * m / 2), h - int(h * m / 2)))
            v = ImageOps.mirror(v) if k % 2 else v
            dest = out / p.relative_to(root).parent / f"{p.stem}-{k}.jpg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            v.save(dest, quality=92)
    return out


def reference_in_its_own_process(data: Path) -> tuple[float, float, float]:
    """:func:`reference_epochs` as its own program, like the reference experiment's script and
    like every trainer job: this process's state (warm allocator pools among it) made the same
    loop up to 3x faster here. It gets the trainer's allocator settings (equal footing; without
    them a fresh process ran it 2.6-3x slower still)."""
    res = subprocess.run([sys.executable, __file__, "--reference-epoch", str(data), "--device", DEVICE.type],
                         capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"reference loop failed: {res.stderr[-2000:]}")
    first, second, acc = json.loads(res.stdout.strip().splitlines()[-1])
    return first, second, acc


def reference_epochs(data: Path, weights: str) -> tuple[float, float, float]:
    """Two epochs of the reference experiment's loop: the frozen backbone recomputed for every
    batch (batch 8, Adam 1e-3, decoding in the loop), then train and test evaluated. A 15-epoch
    run is its first epoch plus 14 like the second (warm: one epoch alone, extrapolated, was
    off by up to 40% here). Returns (first epoch s, second epoch s, test accuracy after the first)."""
    from torchvision import datasets as tvd

    torch.manual_seed(0)
    ds = tvd.ImageFolder(str(data), transform=Preprocess(232, CROP).transform().__call__)
    n_test = len(ds) // 5
    train_ds, test_ds = torch.utils.data.random_split(ds, [len(ds) - n_test, n_test])
    train_dl = torch.utils.data.DataLoader(train_ds, batch_size=8, shuffle=True)
    backbone = build_backbone("mobilenet_v2", weights).eval().requires_grad_(False)
    model = torch.nn.Sequential(backbone, torch.nn.Linear(1280, len(ds.classes))).to(DEVICE)
    opt = torch.optim.Adam(model[1].parameters(), lr=1e-3)
    seconds, first_acc = [], 0.0
    for epoch in range(2):
        start = time.perf_counter()
        for x, y in train_dl:
            x, y = x.to(DEVICE), y.to(DEVICE)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        accs = []
        with torch.no_grad():
            for part in (train_ds, test_ds):
                dl = torch.utils.data.DataLoader(part, batch_size=8)
                accs.append(sum(int((model(x.to(DEVICE)).argmax(1).cpu() == y).sum()) for x, y in dl) / len(part))
        seconds.append(time.perf_counter() - start)
        first_acc = accs[1] if epoch == 0 else first_acc
    return seconds[0], seconds[1], first_acc


def cold_run(data: Path, tmp: Path, cache: Path, name: str, spare: bool = False) -> tuple[float, float]:
    """``trainer train`` 15 epochs with ``cache`` as its cache folder: (wall seconds, best val acc);
    ``spare``: as the app runs it (:func:`spare_cmd`)."""
    wall, events = (spare_cmd if spare else trainer_cmd)(
        "train", str(data), "--weights", mobilenet_weights(), "--epochs", "15", "--out", str(tmp / f"runs-{name}"),
        env={"TRAINER_CACHE_DIR": str(cache)})
    assert any(e["event"] == "done" for e in events), "the run did not finish"
    return wall, max(e["metrics"]["val_acc"] for e in events if e["event"] == "epoch")


def training_section(paths: list[Path], tmp: Path) -> float:
    """Cold 15-epoch runs vs the reference loop; returns the first cold run's seconds."""
    root = REAL_DATA if REAL_DATA.is_dir() else paths[0].parents[1]
    first = 0.0
    for per_photo in (4, 16):
        data = variants(paths, tmp / f"data{per_photo}", root, per_photo)
        n = sum(1 for _ in data.rglob("*.jpg"))
        ref_first, ref_next, ref_acc = reference_in_its_own_process(data)
        ref_s = ref_first + 14 * ref_next
        runs = []
        if per_photo == 4:  # the very first run on this machine: the backend is measured and exported too
            runs.append(("empty feature and backend caches",) + cold_run(data, tmp, tmp / "first-cache", "first"))
            first = runs[0][1]
        for spare in (False, True):
            cache = tmp / f"cache-{per_photo}-{spare}"
            if (tmp / "first-cache" / "backends").is_dir():  # decided before: keep that, empty features
                shutil.copytree(tmp / "first-cache" / "backends", cache / "backends")
            what = ("empty feature cache, in the app: its spare process had imported PyTorch before the click"
                    if spare else "empty feature cache")
            runs.append((what,) + cold_run(data, tmp, cache, f"cold{per_photo}-{spare}", spare))
        for what, wall, val in runs:
            row(f"cold 15-epoch training, {n} photos ({what}) vs the reference-style loop",
                f"{wall:.1f} s vs {ref_first:.1f} + 14 x {ref_next:.1f} s = {ref_s:.0f} s: **{ref_s / wall:.0f}x**; "
                f"val acc {val:.1%} vs {ref_acc:.1%} after the reference's first epoch", ">= 30x")
    return first


def sweep_section(tmp: Path, cold: float) -> None:
    data = tmp / "data4"
    wall, events = trainer_cmd("sweep", str(data), "--weights", mobilenet_weights(), "--epochs", "15",
                               "--models", "mobilenet_v2", "--lrs", "0.01", "0.003", "0.001", "0.0003",
                               "--batch-sizes", "4", "8", "16", "32", "--out", str(tmp / "sweep"),
                               env={"TRAINER_CACHE_DIR": str(tmp / "first-cache")})  # features of data4 warm
    runs = sum(1 for e in events if e["event"] == "done" and "run_dir" in e) or 16
    row(f"a {runs}-run sweep (lr x batch, 15 epochs each, warm feature cache) / one cold run",
        f"{wall:.1f} s / {cold:.1f} s = **{wall / cold:.1f}x** ({wall / runs:.1f} s a run)")


def peak_rss(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "trainer", *args], capture_output=True,
                         text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    line = next(s for s in res.stderr.splitlines() if "Maximum resident set size" in s)
    return int(line.split()[-1]) / 1024, time.perf_counter() - start


def memory_section(tmp: Path, files: int) -> None:
    from trainer.config import TrainConfig
    from trainer.demo_data import make_demo_data
    from trainer.engine import train
    from trainer.events import Events

    data = make_demo_data(tmp / "tiny", per_class=12, size=48)
    run = train(TrainConfig(data=str(data), weights="none", freeze=True, epochs=1, image_size=48,
                            out=str(tmp / "tiny-runs")), Events(), lambda: False)
    sample = next(data.glob("car/*.jpg"))
    figures = []
    for n in (1000, files):
        folder = tmp / f"files{n}"
        folder.mkdir()
        for i in range(n):
            if i % 50_000 == 0:  # a file takes at most 65,000 hard links (ext4)
                source = folder / f".src{i}.jpg"  # hidden: not an image to classify
                shutil.copyfile(sample, source)
            os.link(source, folder / f"img{i:06d}.jpg")
        mb, secs = peak_rss(["classify", str(run), str(folder), "--out", str(tmp / f"p{n}.csv")])
        figures.append((n, mb, secs))
        shutil.rmtree(folder)
    (n0, m0, _), (n1, m1, s1) = figures
    row(f"classify peak memory, {n0:,} vs {n1:,} tiny files", f"{m0:.0f} MB vs {m1:.0f} MB (**{m1 / m0:.2f}x**; "
        f"{n1 / s1:.0f} files/s whole command)", "flat")


def gui_section() -> None:
    res = subprocess.run([sys.executable, str(Path(__file__).with_name("gui_heartbeat.py"))], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("heartbeat")), res.stderr[-500:])
    row("GUI heartbeat (20 ms timer) while a training job runs and thumbnails load", line, "worst < 100 ms")


SECTIONS = ("backends", "classify", "train", "sweep", "memory", "gui")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--files", type=int, default=100_000, help="files in the memory benchmark")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="where models run (auto: the GPU where there is one)")
    ap.add_argument("--reference-epoch", metavar="DATA", help=argparse.SUPPRESS)  # the reference, in its own process
    args = ap.parse_args()
    global DEVICE
    DEVICE = pick_device(args.device)
    tuned = tune_malloc()  # as every trainer job does (trainer/allocator.py): the raw rates are the product's
    if args.reference_epoch:
        print(json.dumps(reference_epochs(Path(args.reference_epoch), mobilenet_weights())))
        return
    tmp = scratch_dir("speed")
    os.environ.setdefault("TRAINER_CACHE_DIR", str(tmp / "cache"))
    print(f"machine: {machine()}; models on {DEVICE}; allocator tuned: {tuned}", flush=True)
    paths = photos()
    fastest, cold = 0.0, 0.0
    if {"backends", "classify"} & set(args.only):
        fastest = backends_section(paths, None)
    if "classify" in args.only:
        run = classify_run(paths, tmp)
        classify_section(run, paths, fastest, tmp)
    if {"train", "sweep"} & set(args.only):
        cold = training_section(paths, tmp)
    if "sweep" in args.only:
        sweep_section(tmp, cold)
    if "memory" in args.only:
        memory_section(tmp, args.files)
    if "gui" in args.only:
        gui_section()
    print("\n| measured | figure | goal |\n|---|---|---|")
    for what, figure, goal in ROWS:
        print(f"| {what} | {figure} | {goal} |")
    shutil.rmtree(tmp, ignore_errors=True)


def classify_run(paths: list[Path], tmp: Path) -> Path:
    """A MobileNetV2 head at 224 px on the photos (its backend decision is made here, warm)."""
    root = REAL_DATA if REAL_DATA.is_dir() else paths[0].parents[1]
    _, events = trainer_cmd("train", str(root), "--weights", mobilenet_weights(), "--epochs", "3", "--out",
                            str(tmp / "classify-runs"))
    return Path(next(e for e in events if e["event"] == "done")["run_dir"])


if __name__ == "__main__":
    main()
