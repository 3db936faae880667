"""Out-of-sample class probabilities for every labeled image, by K-fold cross-validation.

Two candidates learn from the cached backbone features: a logistic regression (scikit-learn,
on standardised features) and a fresh head of the model's own kind (torch, Adam). Each gives
every image a probability vector from the fold that did not see it; the candidate with the
lower out-of-sample log loss is used (cleanlab's confident learning needs exactly this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer.backends import torch_threads
from trainer.features import Cancelled

HEAD_STEPS = 200  # Adam steps per fold, however many images (keeps 10,000 images fast)
HEAD_BATCH = 128


@dataclass
class OutOfSample:
    probs: np.ndarray  # [N, C], rows sum to 1
    method: str  # "logistic_regression" or "head"
    log_loss: dict[str, float]  # per candidate, mean over images
    accuracy: dict[str, float]


def folds_of(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds (fewer when a class has fewer images than ``folds``)."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(labels)[np.bincount(labels) > 0].min())
    k = max(2, min(folds, smallest))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))


def _logistic(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_classes: int,
              seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1, random_state=seed))
    clf.fit(x_train, y_train)
    out = np.zeros((len(x_test), n_classes))
    out[:, clf.classes_] = clf.predict_proba(x_test)
    return out


def _head(make_head: Callable[[int], nn.Module], feats: dict[str, torch.Tensor], train: np.ndarray,
          test: np.ndarray, labels: torch.Tensor, n_classes: int, seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    head = make_head(n_classes)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    train_idx = torch.as_tensor(train)
    head.train()
    for _ in range(HEAD_STEPS):
        batch = train_idx[torch.randint(len(train_idx), (min(HEAD_BATCH, len(train_idx)),), generator=gen)]
        loss = nn.functional.cross_entropy(head({n: f[batch] for n, f in feats.items()}), labels[batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    head.eval()
    with torch.no_grad():
        test_idx = torch.as_tensor(test)
        return torch.softmax(head({n: f[test_idx] for n, f in feats.items()}), dim=1).numpy()


def _score(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(-np.log(picked).mean()), float((probs.argmax(1) == labels).mean())


def out_of_sample(feats: dict[str, torch.Tensor], labels: np.ndarray, n_classes: int,
                  make_head: Callable[[int], nn.Module], folds: int, seed: int,
                  should_stop: Callable[[], bool], on_fold: Callable[[int, int], None]) -> OutOfSample:
    """Cross-validated probabilities from both candidates; the better one is returned."""
    x = np.concatenate([f.numpy() for f in feats.values()], axis=1)
    y = torch.as_tensor(labels, dtype=torch.long)
    splits = folds_of(labels, folds, seed)
    from threadpoolctl import threadpool_limits

    # these small problems run 2-6x faster on one thread (measured, busy 2 cores)
    with torch_threads(1), threadpool_limits(1):
        candidates = _candidates(feats, x, labels, y, splits, n_classes, make_head, seed, should_stop, on_fold)
    scores = {name: _score(p, labels) for name, p in candidates.items()}
    best = min(scores, key=lambda name: scores[name][0])
    return OutOfSample(candidates[best], best, {n: s[0] for n, s in scores.items()},
                       {n: s[1] for n, s in scores.items()})


def _candidates(feats: dict[str, torch.Tensor], x: np.ndarray, labels: np.ndarray, y: torch.Tensor,
                splits: list[tuple[np.ndarray, np.ndarray]], n_classes: int, make_head: Callable[[int], nn.Module],
                seed: int, should_stop: Callable[[], bool], on_fold: Callable[[int, int], None]
                ) -> dict[str, np.ndarray]:
    candidates = {"logistic_regression": np.zeros((len(labels), n_classes)),
                  "head": np.zeros((len(labels), n_classes))}
    for i, (train, test) in enumerate(splits):
        if should_stop():
            raise Cancelled("review stopped during cross-validation")
        candidates["logistic_regression"][test] = _logistic(x[train], labels[train], x[test], n_classes, seed)
        candidates["head"][test] = _head(make_head, feats, train, test, y, n_classes, seed + i)
        on_fold(i + 1, len(splits))
    return candidates
