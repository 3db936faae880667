"""Choosing a trained run: one combo-box filler for every page that uses a run (Classify,
Review, the Labeling page's suggestions), so they list and default the same way. A box may
also list model files the user chose (an exported ``.onnx``, a standalone ``.pt``) after the runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter

from trainer.protocol import MODEL_SUFFIXES, Status
from trainer.run_names import combo_labels
from trainer.runs import RunInfo
from vehicleapp.models.runs_model import WINNER_MARK, search_pick

USER_CHOSE = "userChoseRun"  # a combo's property: the user picked its run (kept across refreshes)
MODEL_FILES = "modelFiles"  # a combo's property: the model files it lists after the runs (paths)
MODEL_FILE_FILTER = f"Model files ({' '.join('*' + s for s in MODEL_SUFFIXES)})"


def same_folder(a: str, b: str) -> bool:
    """Whether two paths name the same folder (neither empty)."""
    return bool(a) and bool(b) and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def default_run(runs: list[RunInfo], dataset: str) -> RunInfo | None:
    """The best finished run trained on ``dataset``, else the best finished run, else the newest;
    "best" is the latest search's pick (``trainer search`` chose it on validation) where there is
    one, else the highest validation accuracy."""
    usable = [r for r in runs if r.checkpoint() is not None]
    done = [r for r in usable if r.status == Status.DONE]
    here = [r for r in done if dataset and same_folder(r.config.get("data", ""), dataset)]
    for group in (here, done):
        picks = [r for r in group if search_pick(r)]
        if picks:
            return max(picks, key=lambda r: str(r.config.get("created", "")))
        if group:
            return max(group, key=lambda r: r.best_val_acc or 0.0)
    return usable[0] if usable else None


class RunCombo(QComboBox):
    """A combo box whose shown text elides in the middle: a run's label starts with its model
    and ends with its accuracy and status, both worth seeing in a narrow window."""

    def shown_text(self) -> str:
        """The current text as it fits the box's text field."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(opt.currentText, Qt.TextElideMode.ElideMiddle, field.width())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)


def run_combo(tip: str, width_chars: int) -> QComboBox:
    """A combo box of runs that stays narrow (long run names elide in the middle; the popup has
    them whole, the tooltip the path). It remembers when the user picks a run (:func:`user_choice`)."""
    combo = RunCombo()
    combo.setToolTip(tip)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(width_chars)
    combo.activated.connect(lambda *_: combo.setProperty(USER_CHOSE, True))
    # the closed box elides: its tooltip has the chosen run's whole name (what tells runs apart)
    combo.currentIndexChanged.connect(
        lambda *_: combo.setToolTip(f"{tip}\nChosen: {combo.currentText()}" if combo.currentText() else tip))
    return combo


def user_choice(combo: QComboBox) -> str | None:
    """The run the user picked in ``combo`` (its path), None when the app chose it."""
    return combo.currentData() if combo.property(USER_CHOSE) else None


def choose_run(combo: QComboBox, path: str) -> bool:
    """Select the run at ``path`` as a pick of the user's (kept across refreshes); False when
    ``combo`` does not list it."""
    idx = combo.findData(path)
    if idx < 0:
        return False
    combo.setCurrentIndex(idx)
    combo.setProperty(USER_CHOSE, True)
    return True


def forget_choice(combo: QComboBox) -> None:
    """Another dataset opened: the run is chosen for it again (:func:`default_run`)."""
    combo.setProperty(USER_CHOSE, False)


def is_model_file(path: Path) -> bool:
    """Whether ``path`` is named as a model file ``trainer export`` writes (.onnx, .pt, .pth)."""
    return path.suffix.lower() in MODEL_SUFFIXES


def model_files(combo: QComboBox) -> list[str]:
    """The model files ``combo`` lists after its runs, the latest chosen first."""
    return [str(f) for f in combo.property(MODEL_FILES) or []]


def set_model_files(combo: QComboBox, paths: list[str]) -> None:
    """Model files to list after the runs (from the next :func:`fill_run_combo` on)."""
    combo.setProperty(MODEL_FILES, list(dict.fromkeys(paths)))


def add_model_file(combo: QComboBox, path: str) -> None:
    """List the model file at ``path`` (named by its file name, its tooltip the path) and select
    it as a pick of the user's, so refreshes of the runs keep it."""
    set_model_files(combo, [path, *model_files(combo)])
    if combo.findData(path) < 0:
        _add_model_file_item(combo, path)
    choose_run(combo, path)


def _add_model_file_item(combo: QComboBox, path: str) -> None:
    combo.addItem(f"{Path(path).name} · model file", path)
    combo.setItemData(combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)


def fill_run_combo(combo: QComboBox, runs: list[RunInfo], dataset: str, keep: str | None = None) -> None:
    """List the runs that have a checkpoint (unique labels, dataset, accuracy, a stopped run's
    status), then the model files chosen; select ``keep`` when it is still there, else
    :func:`default_run`."""
    runs = [r for r in runs if r.checkpoint() is not None]
    combo.clear()
    for run, label in zip(runs, combo_labels(runs)):
        acc = f"val {run.best_val_acc:.1%}" if run.best_val_acc is not None else "no epochs"
        status = "" if run.status == Status.DONE else f" · {run.status.upper()}"
        mark = WINNER_MARK if search_pick(run) else ""
        combo.addItem(f"{mark}{label} · {run.dataset} · {acc}{status}", str(run.path))
        combo.setItemData(combo.count() - 1, str(run.path), Qt.ItemDataRole.ToolTipRole)
    for path in model_files(combo):
        _add_model_file_item(combo, path)
    idx = combo.findData(keep) if keep else -1
    best = default_run(runs, dataset)
    if idx < 0 and best is not None:
        idx = combo.findData(str(best.path))
    combo.setCurrentIndex(max(idx, 0))
