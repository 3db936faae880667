"""Where a frozen backbone runs: the fastest backend and precision this machine has for it.

A backbone is the expensive part of every forward pass (the heads are a few matrix products),
so feature extraction, classification and evaluation all run their backbones through a
:class:`Runner` chosen here:

- ``torch``: eager PyTorch in channels-last memory format, fp32, or bf16 autocast where the
  hardware computes bf16 natively (AVX-512 BF16 or AMX on x86 CPUs, CUDA); on CUDA with
  pinned memory and non-blocking copies; MPS on Apple GPUs.
- ``onnxruntime``: the backbone exported by the product's one ONNX exporter
  (:func:`trainer.onnx_export.export_graph`), CUDA provider where installed, else CPU.

``auto`` measures each candidate on the job's own first photos, keeps those whose outputs
agree with fp32 torch (fp32: the export parity tolerance; bf16: top-1 agreement), and takes
the fastest; plain fp32 torch is always a candidate, so auto is never slower than it. The
decision (and the exported graph, and the measured photos' features, which check a model's
answers later: :func:`keep_probe`) is cached per machine and backbone in the cache folder,
so it is measured once. Small jobs that find no decision use fp32 torch without measuring.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.atomic import read_json, torch_save, write_json
from trainer.batches import to_device
from trainer.config import BACKEND_CHOICES, PRECISION_CHOICES, default_cache_dir
from trainer.machine import machine, machine_id, native_bf16
from trainer.protocol import PARITY_MAX_PROB_DIFF, UsageError

log = logging.getLogger(__name__)
AUTO_MIN_IMAGES = 256  # fewer photos than this and no cached decision: fp32 torch, nothing measured
#: Each choice is timed this many times, in turns with the others, and keeps its best round: a
#: burst of load from elsewhere slows one round, not one choice (measured while another job ran
#: here, one-pass timing once put fp32 torch at 16.6 img/s, a quarter of its rate, and auto kept
#: bf16, whose confidences then differed from the fp32 ONNX export by up to 8 points).
TIMING_ROUNDS = 3
BF16_MIN_COSINE = 0.99  # worst photo's feature-vector cosine similarity to fp32


@dataclass(frozen=True)
class Choice:
    backend: str  # torch | onnxruntime
    precision: str  # fp32 | bf16
    device: str  # cpu | cuda | mps

    def key(self) -> str:
        return f"{self.backend}-{self.precision}-{self.device}"

    def text(self) -> str:
        return f"{self.backend} {self.precision} on {self.device}"


def check(backend: str, precision: str) -> None:
    if backend not in BACKEND_CHOICES:
        raise UsageError(f"--backend must be one of {', '.join(BACKEND_CHOICES)}, got {backend!r}")
    if precision not in PRECISION_CHOICES:
        raise UsageError(f"--precision must be one of {', '.join(PRECISION_CHOICES)}, got {precision!r}")
    if backend == "onnxruntime" and precision == "bf16":
        raise UsageError("--precision bf16 needs --backend torch (onnxruntime runs fp32 here)")


def onnxruntime_available(device: torch.device) -> bool:
    """onnxruntime is installed and can run on ``device`` (on a GPU: with its CUDA provider;
    a CPU-only onnxruntime there would be a CPU backend under a GPU's name)."""
    try:
        import onnxruntime
    except ImportError:
        return False
    return device.type != "cuda" or "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def candidates(backend: str, precision: str, device: torch.device) -> list[Choice]:
    """What ``--backend``/``--precision`` allow on ``device``, fp32 torch first."""
    check(backend, precision)
    dev = device.type
    out = []
    if backend in ("auto", "torch"):
        if precision in ("auto", "fp32"):
            out.append(Choice("torch", "fp32", dev))
        if precision == "bf16" or (precision == "auto" and native_bf16(device)):
            out.append(Choice("torch", "bf16", dev))
    if backend == "onnxruntime" or (backend == "auto" and precision != "bf16" and dev != "mps"
                                    and onnxruntime_available(device)):
        out.append(Choice("onnxruntime", "fp32", dev))
    return out


class TorchRunner:
    """A backbone in eager PyTorch: channels-last, optional bf16 autocast, pinned async copies."""

    def __init__(self, module: nn.Module, choice: Choice, device: torch.device, key: str) -> None:
        self.choice, self.device, self.key = choice, device, key  # key: the backbone's (module_key)
        self.module = module.eval().to(device).to(memory_format=torch.channels_last)
        self.kept: Path | None = None  # the features its measurement kept (Selector.build)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = to_device(x, self.device).contiguous(memory_format=torch.channels_last)
        bf16 = self.choice.precision == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
            return self.module(x).float()


class OrtRunner:
    """A backbone exported to ONNX, run by onnxruntime (outputs on ``device``): on the CPU as
    many small runs at once, one per core (:class:`trainer.ort_runs.OrtSession`)."""

    def __init__(self, path: Path, choice: Choice, device: torch.device, key: str, parts: int | None = None) -> None:
        from trainer.ort_runs import OrtSession

        self.choice, self.device, self.key = choice, device, key
        self.session = OrtSession(path, device, parts, cache=path.parent)  # the run size beside the graph
        self.parts = self.session.parts
        self.kept: Path | None = None  # the features its measurement kept (Selector.build)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.detach().cpu().contiguous().numpy()
        return torch.from_numpy(self.session.run(["features"], batch)[0]).to(self.device)


Runner = TorchRunner | OrtRunner


def onnxruntime_on_cpu(found: Iterable[object]) -> bool:
    """Every one of ``found`` (runners or modules) is an onnxruntime runner on the CPU: torch
    is left only the heads' few small operations, and :func:`torch_threads` ``(1)`` suits it."""
    found = list(found)
    return bool(found) and all(isinstance(r, OrtRunner) and r.device.type == "cpu" for r in found)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads at ``n`` for a while, then as before (``None``: unchanged).

    While onnxruntime's runs keep every core busy, torch's OpenMP team, spinning between the
    heads' small operations, takes cores from them: classify ran 5-12% faster with torch on one
    thread (2 cores). The heads' training on cached features is faster on all threads, so this
    is scoped to the loops that stream photos through onnxruntime."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None:
            torch.set_num_threads(before)


def module_key(module: nn.Module, crop: int) -> str:
    """A backbone's identity: its class, every tensor's bytes and the input size."""
    return tensor_digest(module.state_dict().items(), f"{type(module).__name__}|{crop}")


def tensor_digest(tensors: Iterable[tuple[str, torch.Tensor]], salt: str) -> str:
    """A short hash of named tensors' bytes (and ``salt``)."""
    h = hashlib.sha256(salt.encode())
    for name, t in tensors:
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:24]


def backends_dir() -> Path:
    return default_cache_dir() / "backends"


class Selector:
    """Chooses and builds the runner of one backbone (:func:`runners` for several)."""

    def __init__(self, module: nn.Module, crop: int, device: torch.device, backend: str = "auto",
                 precision: str = "auto", cache: Path | None = None) -> None:
        self.module, self.crop, self.device = module, crop, device
        self.options = candidates(backend, precision, device)
        self.key = module_key(module, crop)
        self.cache = cache or backends_dir()
        # one decision per machine, backbone and set of allowed choices (--backend torch's
        # decision between fp32 and bf16 is not auto's)
        options = [c.key() for c in self.options]
        self.decision_file = self.cache / f"{self.key}-{device.type}-{machine_id(options=options)}.json"
        self.kept_file = self.decision_file.with_suffix(".probe.pt")  # see keep_probe
        self.report: dict[str, Any] = {}

    def decided(self) -> Choice | None:
        """The one allowed choice, or the cached decision if it is allowed here."""
        if len(self.options) == 1:
            return self.options[0]
        try:
            choice = Choice(**read_json(self.decision_file)["choice"])
        except (OSError, KeyError, TypeError, ValueError):
            return None
        return choice if choice in self.options else None

    def build(self, choice: Choice) -> Runner:
        runner: Runner
        if choice.backend == "torch":
            runner = TorchRunner(self.module, choice, self.device, self.key)
        else:
            path = self.cache / f"{self.key}.onnx"
            if not path.is_file():
                from trainer.onnx_export import export_graph

                export_graph(_Float(copy.deepcopy(self.module)).cpu(), self.crop, path, ("features",))
            runner = OrtRunner(path, choice, self.device, self.key)
        runner.kept = self.kept_file
        return runner

    def measure(self, probe: torch.Tensor) -> Runner:
        """Time every allowed choice on ``probe``; the fastest that agrees with fp32 torch wins."""
        runs: dict[str, dict[str, Any]] = {}
        best: tuple[float, Runner, torch.Tensor] | None = None
        reference: torch.Tensor | None = None
        for choice, (runner, out, rate) in self._timings(probe, runs).items():
            reference = out if reference is None else reference
            agree = agreement(reference, out)
            ok = acceptable(choice, agree)
            runs[choice.key()] = {"images_per_s": round(rate, 1), **agree, "accepted": ok}
            if ok and (best is None or rate > best[0]):
                best = (rate, runner, out)
        if best is None or reference is None:
            raise RuntimeError(f"no backend works for this model: {runs}")
        self.report = {"choice": asdict(best[1].choice), "measured": runs, "probe": len(probe), "machine": machine()}
        if "error" not in runs[self.options[0].key()]:  # the reference is fp32 torch's
            keep_probe(self.kept_file, probe, best[1].choice, reference, best[2])
        write_json(self.decision_file, self.report)
        return best[1]

    def _timings(self, probe: torch.Tensor, runs: dict[str, dict[str, Any]]
                 ) -> dict[Choice, tuple[Runner, torch.Tensor, float]]:
        """Each working choice's runner, output and best rate over :data:`TIMING_ROUNDS` rounds
        taken in turns; a choice that fails is recorded in ``runs`` and left out."""
        timed: dict[Choice, tuple[Runner, torch.Tensor, float]] = {}
        for _ in range(TIMING_ROUNDS):
            for choice in self.options:
                if choice.key() in runs:
                    continue
                try:
                    runner = timed[choice][0] if choice in timed else self._warm(choice, probe)
                    out, rate = _timed(runner, probe)
                except Exception as exc:  # noqa: BLE001 - a backend that fails here is just not chosen
                    runs[choice.key()] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                    timed.pop(choice, None)
                    continue
                timed[choice] = (runner, out, max(rate, timed[choice][2] if choice in timed else 0.0))
        return timed

    def _warm(self, choice: Choice, probe: torch.Tensor) -> Runner:
        runner = self.build(choice)
        runner(probe)  # allocations, kernel choice: not what is timed
        return runner

    def forget(self) -> None:
        """Drop the decision (and the features kept with it): measured again next time."""
        self.decision_file.unlink(missing_ok=True)
        self.kept_file.unlink(missing_ok=True)


class _Float(nn.Module):
    """A backbone whose forward argument is named ``x``, as the exporter's dynamic batch expects."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def _timed(runner: Runner, probe: torch.Tensor) -> tuple[torch.Tensor, float]:
    """One timed call of a warmed-up runner: its output and images per second."""
    _sync(runner.device)
    start = time.perf_counter()
    out = runner(probe)
    _sync(runner.device)
    return out.float().cpu(), len(probe) / max(time.perf_counter() - start, 1e-9)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def agreement(reference: torch.Tensor, out: torch.Tensor) -> dict[str, float]:
    """How a backbone's features match fp32 torch's: the largest difference relative to the
    largest feature, the worst cosine similarity of a photo's feature vectors, and top-1
    agreement of the strongest feature (what a linear head is most sensitive to)."""
    scale = float(reference.abs().max()) or 1.0
    cos = torch.nn.functional.cosine_similarity(reference, out, dim=1)
    return {"max_rel_diff": float((reference - out).abs().max()) / scale,
            "min_cosine": float(cos.min()),
            "top1": float((reference.argmax(1) == out.argmax(1)).float().mean())}


def acceptable(choice: Choice, agree: dict[str, float]) -> bool:
    """fp32 must match fp32 torch within the export parity tolerance; bf16 must keep every
    photo's feature direction (classification then checks top-1: :func:`trainer.scoring.verify`)."""
    if choice.precision == "bf16":
        return agree["min_cosine"] >= BF16_MIN_COSINE
    return agree["max_rel_diff"] <= PARITY_MAX_PROB_DIFF


def runners(modules: dict[str, nn.Module], crop: int, device: torch.device, backend: str, precision: str,
            probe: Callable[[], torch.Tensor | None], n_images: int,
            note: Callable[[str], None] = log.info) -> dict[str, Runner]:
    """One runner per backbone. ``probe`` gives the job's first photos if a measurement is
    needed (auto, no cached decision and at least :data:`AUTO_MIN_IMAGES` photos)."""
    out: dict[str, Runner] = {}
    sample: torch.Tensor | None = None
    for name, module in modules.items():
        sel = Selector(module, crop, device, backend, precision)
        choice = sel.decided()
        if choice is None and n_images < AUTO_MIN_IMAGES:
            choice = sel.options[0]
        if choice is not None:
            out[name] = _built(sel, choice, note)
            continue
        sample = probe() if sample is None else sample
        if sample is None:
            out[name] = sel.build(sel.options[0])
            continue
        out[name] = sel.measure(sample)
        rates = ", ".join(f"{k} {v.get('images_per_s', v.get('error'))}" for k, v in sel.report["measured"].items())
        note(f"{name} runs on {out[name].choice.text()} (measured images/s: {rates})")
    return out


def _built(sel: Selector, choice: Choice, note: Callable[[str], None]) -> Runner:
    """The decided runner; if a cached decision no longer builds (a damaged exported graph, a
    package removed), fp32 torch — unless the user asked for that backend alone."""
    try:
        return sel.build(choice)
    except Exception as exc:  # any failure here has a safe answer
        if len(sel.options) == 1 or choice == sel.options[0]:
            raise
        note(f"{choice.text()} failed ({type(exc).__name__}: {str(exc)[:120]}): running on fp32 torch")
        sel.forget()
        return sel.build(sel.options[0])


def keep_probe(path: Path, probe: torch.Tensor, choice: Choice, reference: torch.Tensor, chosen: torch.Tensor) -> None:
    """Keep a measurement's features of its photos beside the decision: fp32 torch's and the
    chosen backend's. A model's answers on them are compared later without running a backbone
    (:func:`trainer.scoring.verify_kept`); ``photos`` tells whether two backbones' kept features
    come from the same photos (an ensemble needs both)."""
    kept = {"photos": tensor_digest([("probe", probe)], "photos"), "choice": choice.key(),
            "reference": reference.float().cpu(), "chosen": chosen.float().cpu()}
    try:
        torch_save(kept, path)
    except OSError as exc:  # a read-only cache: the answers are checked on the job's photos instead
        log.warning("could not keep the measured features: %s", exc)


def kept_probe(found: dict[str, Runner]) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
    """Each runner's kept ``(fp32 torch, its own)`` features of one set of photos, or None where
    any runner has none (a decision from before they were kept, a backend asked for by name) or
    the backbones were measured on different photos."""
    out, photos = {}, set()
    for name, runner in found.items():
        try:
            kept = torch.load(runner.kept, weights_only=True) if runner.kept else None
        except Exception:  # noqa: BLE001 - damaged or missing: the job's photos are used instead
            kept = None
        if not isinstance(kept, dict) or kept.get("choice") != runner.choice.key():
            return None
        ref, own = kept.get("reference"), kept.get("chosen")
        if not isinstance(ref, torch.Tensor) or not isinstance(own, torch.Tensor) or ref.shape != own.shape:
            return None
        photos.add(kept.get("photos"))
        out[name] = (ref, own)
    return out if len(photos) == 1 else None
