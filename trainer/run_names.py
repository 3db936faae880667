"""Short names for runs: what a set of runs shares, and the fewest details that tell each apart.

A legend or a combo box that repeats "mobilenet_v2 lr=0.001 bs=8 · 3 ep · 20261130-061302-…"
for every run is long and hides what differs; here the shared part is said once (a legend's
title) and each run gets only what tells it from the others ("photos · 15 ep", "small").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from trainer.pathtext import for_display
from trainer.runs import RunInfo

#: The details that can tell runs apart, most telling first.
FIELDS = ("model", "lr", "bs", "data", "weights", "size", "augment", "fine-tune", "balance", "early stop",
          "epochs", "started")
#: How a run that used none of a training option says so: left out where the rest tells runs apart.
OFF = frozenset({"not augmented", "head only", "no balancing", "no early stop"})
#: How a run trained, which its curves do not show: named whenever the runs differ in it, even
#: where another field already tells them apart (a legend read "lr 0.01" / "lr 0.001" for an
#: augmented run beside a plain one).
HOW = ("augment", "fine-tune", "balance", "early stop")
#: The settings a run chooser names first (model, learning rate, batch size).
SETTINGS = ("model", "lr", "bs")
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})")


def _started(run: RunInfo) -> tuple[str, str]:
    """(date, time) the run started: from ``created``, else its folder name's stamp."""
    created = str(run.config.get("created", ""))
    if "T" in created:
        date, _, clock = created.partition("T")
        return date, clock[:8]
    m = _STAMP.match(run.name)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return f"{y}-{mo}-{d}", f"{h}:{mi}:{s}"
    return "", run.name


def details(run: RunInfo) -> dict[str, str]:
    """Each field of :data:`FIELDS` as a short phrase ("lr 0.001", "photos", "15 ep")."""
    c = run.config
    model = f"ensemble of {len(c['members'])} runs" if c.get("members") else str(c.get("model", "?"))
    date, clock = _started(run)
    return {
        "model": model,
        "lr": f"lr {c.get('lr', '?')}",
        "bs": f"bs {c.get('batch_size', '?')}",
        "data": run.dataset or "?",
        "weights": f"{run.weights or '?'} weights",
        "size": f"{run.image_size or 224} px",
        "augment": "augmented" if c.get("augment") else "not augmented",
        "fine-tune": f"fine-tuned {c['fine_tune']} ep" if c.get("fine_tune") else "head only",
        "balance": f"balance {c['balance']}" if c.get("balance", "none") != "none" else "no balancing",
        "early stop": f"early stop {c['early_stop']}" if c.get("early_stop") else "no early stop",
        "epochs": f"{len(run.metrics)} ep",
        "started": f"{date} {clock}".strip(),
        "_clock": clock,
        "_date": date,
    }


def shared(runs: Sequence[RunInfo], fields: Sequence[str] = FIELDS[:5]) -> list[str]:
    """The phrases every run has in common (among ``fields``), in their order."""
    if not runs:
        return []
    all_details = [details(r) for r in runs]
    return [all_details[0][f] for f in fields if len({d[f] for d in all_details}) == 1]


def tell_apart(runs: Sequence[RunInfo], known: Sequence[str] = ()) -> list[list[str]]:
    """Per run, the fewest phrases that tell it from the others.

    Fields are tried most telling first and kept only when they separate more runs; ``known``
    fields count as shown already (a combo box shows the dataset in its own place) and are
    not returned. A start time says only the clock when all runs started the same day; runs
    still alike after every field get their folder's name."""
    all_details = [details(r) for r in runs]
    if len(runs) < 2:
        return [[] for _ in runs]
    same_day = len({d["_date"] for d in all_details}) == 1
    for d in all_details:
        if same_day:
            d["started"] = d["_clock"]

    def distinct(fields: list[str]) -> int:
        return len({tuple(d[f] for f in fields) for d in all_details})

    chosen = [f for f in known if f in FIELDS]
    for field in FIELDS:
        if distinct(chosen) == len(runs):
            break
        if field not in chosen and distinct([*chosen, field]) > distinct(chosen):
            chosen.append(field)
    chosen += [f for f in HOW if f not in chosen and len({d[f] for d in all_details}) > 1]
    shown = [f for f in FIELDS if f in chosen and f not in known]
    keys = [tuple(d[f] for f in chosen) for d in all_details]
    labels = []
    for run, d, key in zip(runs, all_details, keys):
        words = [d[f] for f in shown]
        if keys.count(key) > 1:
            words.append(run.name)
        labels.append([for_display(w) for w in words])
    return _without_off(labels)


def _without_off(labels: list[list[str]]) -> list[list[str]]:
    """Leave out "not augmented", "head only"... where the rest still tells the run apart:
    "augmented" beside a plain run says enough."""
    short = [[w for w in words if w not in OFF] or words for words in labels]
    return short if len({tuple(w) for w in short}) == len(labels) else labels


def legend_labels(runs: Sequence[RunInfo]) -> tuple[str, list[str]]:
    """(title, labels) for a legend of ``runs``: the title says what they share, each label
    what tells that run apart (a single run: its model)."""
    title = " · ".join(for_display(w) for w in shared(runs, (*SETTINGS, "data")))
    labels = [" · ".join(words) for words in tell_apart(runs)]
    if len(runs) == 1:
        title, labels = "", [" · ".join(for_display(w) for w in shared(runs, FIELDS[:4]))]
    return title, labels


def combo_labels(runs: Sequence[RunInfo]) -> list[str]:
    """One unique name per run for a run chooser that shows each run's dataset beside it: the
    model and settings, plus what tells look-alike runs apart (never the dataset again)."""
    extra = tell_apart(runs, known=(*SETTINGS, "data"))
    names = []
    for run, words in zip(runs, extra):
        d = details(run)
        base = d["model"] if run.config.get("members") else f"{d['model']} lr={run.config.get('lr', '?')} " \
                                                             f"bs={run.config.get('batch_size', '?')}"
        names.append(" · ".join([for_display(base), *words]))
    return names
