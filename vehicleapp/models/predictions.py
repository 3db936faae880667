"""Classification results: a table model and a filter by label and confidence."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from trainer.csvfile import Prediction
from trainer.pathtext import for_display
from trainer.protocol import UNKNOWN
from vehicleapp.models.filtering import FilterProxy
from vehicleapp.workers import ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 20
FIXED = ("Image", "Path", "Label", "Confidence")
CONFIDENCE_TIP = ("How far the answer can be trusted: the top class's probability, lowered for a photo that looks "
                  "unlike the photos the model was trained on (shown as \"unfamiliar\"). Below the run's threshold "
                  "the answer is unknown.")
UNREADABLE = "(unreadable)"  # the label filter's choice for rows with an error


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter: "an ambulance", "a truck")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def best_guess(classes: list[str], probs: list[float]) -> tuple[str, float] | None:
    """The class the model leans to most, with its probability (None without probabilities)."""
    if not probs or len(probs) != len(classes):
        return None
    i = max(range(len(probs)), key=probs.__getitem__)
    return classes[i], probs[i]


def unknown_reason(p: Prediction, classes: list[str], threshold: float | None = None,
                   familiar_above: float | None = None) -> str:
    """Why a photo is ``unknown``, in plain words. The confidence is below the run's threshold
    either because the photo looks unlike every training photo (the confidence is the top
    probability times that familiarity, so it is well below the top probability) or because
    the model is torn between classes (the top probability itself is low); ``threshold`` (the
    run's, where known) says how sure it must be."""
    guess = best_guess(classes, p.probs)
    if guess is None:
        return "The model is not sure enough to name a class."
    name, prob = for_display(guess[0]), guess[1]
    if lowered(p, familiar_above):
        return (f"This photo looks unlike the photos the model was trained on, so its best guess "
                f"({name}, {prob:.0%}) is not trusted.")
    needs = f", below the {threshold:.0%} it needs to answer" if threshold else ""
    return f"The model cannot tell which class this is: its best guess, {name}, is only {prob:.0%} likely{needs}."


def verdict_html(file_name: str, p: Prediction, classes: list[str], coverage: float | None = None,
                 threshold: float | None = None, familiar_above: float | None = None) -> str:
    """One photo's result as a sentence: "car1.jpg is a car (97.0% sure)", or, for an unknown
    answer, that the model does not know and why; ``coverage`` (the share of its validation
    photos the model answers) says how often that happens by design."""
    name = f"<b>{for_display(file_name)}</b>"
    if p.label == UNKNOWN:
        why = unknown_reason(p, classes, threshold, familiar_above)
        return f"{name}<br><b>Not recognised.</b> {why}{by_design(coverage)}"
    label = for_display(p.label or "?")
    return f"{name}<br>is {article(label)} <b>{label}</b>{_sure(p, familiar_above=familiar_above)}"


def lowered(p: Prediction, familiar_above: float | None = None) -> bool:
    """The photo's unfamiliarity lowered its confidence more than usual: below
    ``familiar_above`` times the top probability (the run's :attr:`Trust.familiar_above`: 9 in 10
    of its validation photos keep more), else, where the run does not say, by over 5 points.
    (Every photo's confidence is lowered somewhat; 15 of 24 ordinary new photos read
    "unfamiliar" when any 5 points counted.)"""
    top = max(p.probs) if p.probs else p.confidence
    if p.confidence is None or top is None or top <= 0:
        return False
    if familiar_above is not None:
        return p.confidence < top * familiar_above
    return p.confidence < top - 0.05


def sure_words(p: Prediction, why: bool = True, familiar_above: float | None = None) -> str:
    """How sure, in the words the probability bars beside it agree with: the top probability,
    and the confidence the threshold is compared with where the photo's unfamiliarity lowered
    it (``why``: and say so)."""
    if p.confidence is None:
        return ""
    top = max(p.probs) if p.probs else p.confidence
    if f"{top:.1%}" == f"{p.confidence:.1%}":
        return f"{p.confidence:.1%} sure"
    # never "99.2% sure" beside a bar at 100.0%: that read as a mistake
    words = f"{top:.1%} likely; trusted at {p.confidence:.1%}"
    unlike = why and lowered(p, familiar_above)
    return words + (", as it looks less like the photos the model was trained on" if unlike else "")


def _sure(p: Prediction, why: bool = True, familiar_above: float | None = None) -> str:
    return f" ({sure_words(p, why, familiar_above)})" if p.confidence is not None else ""


def by_design(coverage: float | None) -> str:
    """How often the model answers "not recognised" on purpose, in words ("" when unknown)."""
    if coverage is None or not 0 < coverage < 1:
        return ""
    return (f" This model leaves about {1 - coverage:.0%} of its own validation photos unanswered like "
            "this, rather than risk a wrong answer.")


def verdict_line(file_name: str, p: Prediction, classes: list[str]) -> str:
    """The same in one short line (a status line)."""
    name = for_display(file_name)
    if p.label == UNKNOWN:
        guess = best_guess(classes, p.probs)
        return f"{name}: not recognised" + (f" (best guess {for_display(guess[0])}, not trusted)" if guess else "")
    return f"{name}: {for_display(p.label or '?')}{_sure(p, why=False)}"


class PredictionsModel(QAbstractTableModel):
    def __init__(self, loader: ThumbnailLoader | None = None, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.loader = loader
        self.folder = Path()
        self.classes: list[str] = []
        self.rows: list[Prediction] = []
        self.threshold: float | None = None  # the run's: how sure it must be to name a class
        self.familiar_above: float | None = None  # the run's: see lowered()
        self._row_of: dict[str, int] = {}
        if loader:
            loader.signals.ready.connect(self._on_thumb)

    def set_results(self, folder: Path, classes: list[str], rows: list[Prediction],
                    threshold: float | None = None, familiar_above: float | None = None) -> None:
        self.beginResetModel()
        self.folder, self.classes, self.rows = Path(folder), list(classes), list(rows)
        self.threshold, self.familiar_above = threshold, familiar_above
        self._row_of = {str(self.folder / r.path): i for i, r in enumerate(self.rows)}
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(FIXED) + len(self.classes) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201, N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tip(section)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        names = [*FIXED, *(f"P({c})" for c in self.classes), "Error"]
        return names[section] if 0 <= section < len(names) else None

    def _header_tip(self, section: int) -> str | None:
        if section == FIXED.index("Confidence"):
            return CONFIDENCE_TIP
        k = section - len(FIXED)
        if 0 <= k < len(self.classes):
            name = for_display(self.classes[k])
            return f"How likely the photo is {article(name)} {name} (a calibrated probability)"
        return None

    def _value(self, p: Prediction, col: int):  # noqa: ANN202
        if col == 1:
            return p.path
        if col == 2:
            return p.label or ""
        if col == 3:
            return p.confidence
        k = col - len(FIXED)
        if 0 <= k < len(self.classes):
            return p.probs[k] if p.probs else None
        return p.error if col == len(FIXED) + len(self.classes) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        p, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and self.loader:
            return self.loader.pixmap(str(self.folder / p.path))
        value = self._value(p, col)
        if role == SORT_ROLE:
            return -1.0 if value is None else value
        if role == Qt.ItemDataRole.ToolTipRole and col in (2, 3) and p.label == UNKNOWN:
            return unknown_reason(p, self.classes, self.threshold, self.familiar_above)
        if role == Qt.ItemDataRole.ToolTipRole and col == 3 and lowered(p, self.familiar_above):
            return f"{sure_words(p, familiar_above=self.familiar_above)}."
        if role == Qt.ItemDataRole.DisplayRole and col > 0:
            if isinstance(value, float) and col == 3:  # next to P(class) = 0.995, say why it is lower
                return f"{value:.1%}" + (" (unfamiliar)" if lowered(p, self.familiar_above) else "")
            if isinstance(value, float):
                return f"{value:.3f}"
            return "" if value is None else for_display(str(value))
        return None

    def _on_thumb(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row, 0)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class PredictionFilter(FilterProxy):
    """Keeps rows of one label (or all) whose confidence is at least a threshold."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.label = ""
        self.min_confidence = 0.0
        self.setSortRole(SORT_ROLE)

    def set_filter(self, label: str = "", min_confidence: float = 0.0) -> None:
        def change() -> None:
            self.label, self.min_confidence = label, min_confidence

        self.refilter(change)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        model: PredictionsModel = self.sourceModel()  # type: ignore[assignment]
        p = model.rows[row]
        if self.label == UNREADABLE:
            return bool(p.error)
        if self.label and p.label != self.label:
            return False
        return self.min_confidence <= 0 or (p.confidence or 0.0) >= self.min_confidence

    def visible_rows(self) -> list[Prediction]:
        model: PredictionsModel = self.sourceModel()  # type: ignore[assignment]
        return [model.rows[self.mapToSource(self.index(r, 0)).row()] for r in range(self.rowCount())]
