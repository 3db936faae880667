"""The one definition of the product's probabilities and confidence, for every consumer.

:class:`ScoredModel` turns images into ``(probs, confidence, logits)``: calibrated
probabilities ``softmax(logits / T)`` and the confidence that ``--threshold`` and the CSV's
``confidence`` column mean (see :mod:`trainer.trust`). Classify, evaluate, explain and the
ONNX export all run it, and calibration computes validation confidences with the same
:func:`confidence`, so the threshold it picks means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainer import checkpoint as ckpt_io
from trainer import tta as TTA
from trainer.backends import Runner, backends_dir, kept_probe, onnxruntime_on_cpu, runners, tensor_digest
from trainer.models import TransferModel
from trainer.preprocess import Preprocess
from trainer.protocol import BF16_MIN_AGREEMENT, PARITY_MAX_PROB_DIFF, PARITY_MIN_AGREEMENT
from trainer.trust import Trust

BANK = "feature_bank"  # checkpoint key: unit feature rows of training photos (score knn)


def embed(feats: dict[str, torch.Tensor]) -> torch.Tensor:
    """One unit vector per image: each backbone's pooled features normalised, concatenated,
    normalised again (so both backbones of an ensemble weigh the same)."""
    parts = [F.normalize(f.float(), dim=1) for f in feats.values()]
    return F.normalize(torch.cat(parts, dim=1), dim=1)


def nearest_similarity(emb: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row of ``emb`` to its nearest row of ``bank``."""
    return (emb @ bank.T).max(dim=1).values


def confidence(probs: torch.Tensor, similarity: torch.Tensor | None = None,
               familiarity: tuple[float, float] | None = None) -> torch.Tensor:
    """The top calibrated probability, times ``sigmoid(a * similarity + b)`` for score knn."""
    top = probs.max(dim=1).values
    if similarity is None or familiarity is None:
        return top
    slope, intercept = familiarity
    return top * torch.sigmoid(similarity * slope + intercept)


class ScoredModel(nn.Module):
    """A trained model with its trust settings: images -> ``(probs, confidence, logits)``.

    Backbones are called directly (not through ``TransferModel.features``, whose ``no_grad``
    would hide activations from Grad-CAM and from the ONNX exporter); callers choose no_grad.
    """

    def __init__(self, model: TransferModel, trust: Trust, bank: torch.Tensor | None = None) -> None:
        super().__init__()
        self.model, self.trust = model.eval(), trust
        self.knn = trust.score == "knn" and bank is not None and trust.familiarity is not None
        self.runners: dict[str, Runner] = {}  # trainer.backends; none: the modules, fp32 torch
        self.bank: torch.Tensor
        self.register_buffer("bank", bank.float() if self.knn and bank is not None else torch.empty(0))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return TTA.averaged(self.plain_features, x, self.model.tta)

    def plain_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: self.runners.get(name, bb)(x) for name, bb in self.model.backbones.items()}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.score(self.features(x))

    def score(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.model.head(feats)
        probs = torch.softmax(logits / self.trust.temperature, dim=1)
        if not self.knn:
            return probs, confidence(probs), logits
        sim = nearest_similarity(embed(feats), self.bank)
        return probs, confidence(probs, sim, self.trust.familiarity), logits


class TorchScorer:
    """A checkpoint ready to classify batches: what :func:`trainer.predict.predict` needs."""

    def __init__(self, scored: ScoredModel, ckpt: dict[str, Any], device: torch.device) -> None:
        self.scored, self.device = scored.to(device), device
        self.classes: list[str] = list(ckpt["classes"])
        self.model_name: str = ckpt["model"]
        self.preprocess: Preprocess = ckpt_io.preprocess_of(ckpt)
        self.trust = scored.trust
        self.tta = scored.model.tta

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs, conf, _ = self.scored(x.to(self.device))
        return probs.cpu(), conf.cpu()

    def torch_threads(self) -> int | None:
        """torch's threads while classifying (:func:`trainer.backends.torch_threads`)."""
        found = self.scored.runners
        every = len(found) == len(self.scored.model.backbones)
        return 1 if every and onnxruntime_on_cpu(found.values()) else None

    def use_backends(self, backend: str, precision: str, probe: Callable[[], torch.Tensor | None], n_images: int,
                     note: Callable[[str], None]) -> None:
        """Run the backbones on the fastest backend (:mod:`trainer.backends`), provided this model's
        answers on the probe photos agree with fp32 torch (:func:`verify`); else fp32 torch."""
        found = runners(dict(self.scored.model.backbones.items()), self.preprocess.crop, self.device, backend,
                        precision, probe, n_images, note)
        if all(r.choice.key() == f"torch-fp32-{self.device.type}" for r in found.values()):
            self.scored.runners = dict(found)
            return
        mark = verified_mark(self.scored, found)
        problem, checked = ("", False) if mark.exists() else self._check(found, probe)
        if problem and backend == "auto" and precision == "auto":
            note(f"{problem}: this job runs on fp32 torch")
            return
        if problem:
            note(problem)
        elif checked:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()  # the same model on the same runners gives the same answers: checked once
        self.scored.runners = dict(found)

    def _check(self, found: dict[str, Runner], probe: Callable[[], torch.Tensor | None]) -> tuple[str, bool]:
        """(why ``found`` may not classify with this model, whether it was checked): on the
        features the backend's measurement kept, else on the job's first photos."""
        kept = kept_probe(found)
        if kept is not None:
            return verify_kept(self, found, kept), True
        sample = probe()
        return (verify(self, found, sample), True) if sample is not None else ("", False)

    def choices(self) -> dict[str, str]:
        """Where each backbone runs, in words."""
        return {name: r.choice.text() for name, r in self.scored.runners.items()}


def verified_mark(scored: ScoredModel, found: dict[str, Runner]) -> Path:
    """The file that says this model (its backbones by their keys, every other tensor, its trust
    settings and test-time augmentation) agreed with fp32 torch on these runners on this machine
    (:func:`verify`)."""
    where = "|".join(f"{n}={r.key}:{r.choice.key()}" for n, r in sorted(found.items()))
    rest = ((n, t) for n, t in scored.state_dict().items() if not n.startswith("model.backbones."))
    return backends_dir() / f"verified-{tensor_digest(rest, f'{where}|{scored.trust}|{scored.model.tta}')}"


def verify(scorer: TorchScorer, found: dict[str, Runner], x: torch.Tensor) -> str:
    """Why ``found`` may not classify with this model ('' if it may): the top-1 agreement and
    probability differences with fp32 torch on ``x`` (the parity tolerance; bf16: its own)."""
    reference = scorer(x)[0]
    scorer.scored.runners = dict(found)
    try:
        probs = scorer(x)[0]
    finally:
        scorer.scored.runners = {}
    return disagreement(reference, probs, found)


@torch.no_grad()
def verify_kept(scorer: TorchScorer, found: dict[str, Runner],
                kept: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> str:
    """:func:`verify` on the features the backends' measurement kept (:func:`trainer.backends.
    kept_probe`): the model's answers from fp32 torch's features and from the chosen backends'
    features of the same photos. No backbone runs (running fp32 torch on 32 photos took 1.5 s of
    a first classification here)."""
    device = scorer.device
    reference = scorer.scored.score({n: ref.to(device) for n, (ref, _) in kept.items()})[0]
    probs = scorer.scored.score({n: own.to(device) for n, (_, own) in kept.items()})[0]
    return disagreement(reference.cpu(), probs.cpu(), found)


def disagreement(reference: torch.Tensor, probs: torch.Tensor, found: dict[str, Runner]) -> str:
    """Why probabilities ``probs`` from ``found`` fall short of fp32 torch's ``reference`` ('' if they do not)."""
    if not bool(torch.isfinite(probs).all()):  # NaN compares as neither near nor far
        return f"the backend gave no answer (not a number) for some of {len(probs)} photos"
    agree = float((reference.argmax(1) == probs.argmax(1)).float().mean())
    diff = float((reference - probs).abs().max())
    bf16 = any(r.choice.precision == "bf16" for r in found.values())
    if bf16 and agree < BF16_MIN_AGREEMENT:
        return f"bf16 agreed with fp32 on {agree:.1%} of {len(probs)} photos (needs {BF16_MIN_AGREEMENT:.1%})"
    if not bf16 and (agree < PARITY_MIN_AGREEMENT or diff > PARITY_MAX_PROB_DIFF):
        return f"the backend agreed with fp32 torch on {agree:.1%} of {len(probs)} photos, differences up to {diff:.1e}"
    return ""


def scored_model(model: TransferModel, ckpt: dict[str, Any]) -> ScoredModel:
    return ScoredModel(model, Trust.from_dict(ckpt.get("trust")), ckpt.get(BANK))


def load_scored(path: str | Path, tta: str | None = None) -> tuple[ScoredModel, dict[str, Any]]:
    """A run folder or checkpoint as a :class:`ScoredModel` (eval mode, CPU) and its dict;
    ``tta`` overrides the test-time augmentation the run chose (:func:`trainer.tta.resolve`)."""
    model, ckpt = ckpt_io.load_model(path)
    model.tta = TTA.resolve(tta, model.tta)
    return scored_model(model, ckpt), ckpt


def load_torch_scorer(path: str | Path, device: torch.device | None = None, tta: str | None = None) -> TorchScorer:
    scored, ckpt = load_scored(path, tta)
    return TorchScorer(scored, ckpt, device or torch.device("cpu"))
