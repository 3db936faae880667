"""Labeling page: one image at a time; 1-9 assign a class, arrows navigate, Ctrl+Z undoes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from trainer.datasets import Entry
from trainer.pathtext import for_display
from vehicleapp.dataset_state import DatasetState
from vehicleapp.jobs import JobRunner
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.label_keys import LabelKeys
from vehicleapp.widgets.preview import Preview
from vehicleapp.widgets.suggestions import SuggestionBar
from vehicleapp.widgets.text import Hint

UNLABELED_QUEUE, ALL_QUEUE = "unlabeled", "all"
KEY_HINT = "Keys: 1–9 assign · ←/→ navigate · Ctrl+Z undo · Ctrl+Shift+Z redo"


class LabelPage(QWidget):
    undo_requested = Signal()  # the window undoes (a journal step, so it can be redone)

    def __init__(self, state: DatasetState, runner: JobRunner | None = None, runs: RunsState | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.suggestions = SuggestionBar(runner, runs) if runner is not None and runs is not None else None
        self.queue: list[Path] = []
        self.pos = 0
        self.labeling = True
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build()
        self.keys = LabelKeys(self, state, self.assign, step=self.step)
        self.new_button.clicked.connect(self.keys.new_class)
        for key in ("Return", "Enter"):
            self.keys.bind(key, self.accept_suggestion)
        if self.suggestions is not None:
            self.suggestions.changed.connect(self.rebuild_queue)
            self.suggestions.accept_all.connect(self.accept_all)
            state.loaded.connect(lambda: self.suggestions.set_dataset(state.root))
            self.suggestions.unlabeled = lambda: len(state.unlabeled())
        state.loaded.connect(self.rebuild_queue)
        state.moved.connect(self._on_moved)
        state.replayed.connect(self._on_replayed)
        state.classes_changed.connect(self._rebuild_buttons)

    def _build(self) -> None:
        """Queue choice and position on top, the image, one button per class, navigation."""
        top = self._top_bar()
        self.preview = Preview(side=900)
        self.buttons = QHBoxLayout()  # filled by _rebuild_buttons
        nav = self._nav_bar()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        if self.suggestions is not None:
            layout.addWidget(self.suggestions)
        layout.addWidget(self.preview, 1)
        layout.addLayout(self.buttons)
        layout.addLayout(nav)

    def _top_bar(self) -> QHBoxLayout:
        self.mode = QComboBox()
        self.mode.addItem("Unlabeled images", UNLABELED_QUEUE)
        self.mode.addItem("All images", ALL_QUEUE)
        self.mode.setToolTip("Which images to go through: the ones without a class yet, or all")
        self.mode.currentIndexChanged.connect(self.rebuild_queue)
        self.position = QLabel("")
        self.current_label = QLabel("")
        top = QHBoxLayout()
        top.addWidget(QLabel("Go through:"))
        top.addWidget(self.mode)
        top.addStretch(1)
        top.addWidget(self.current_label)
        top.addWidget(self.position)
        return top

    def _nav_bar(self) -> QHBoxLayout:
        """Previous, Next, Undo, New class… (no focus: the keys belong to the page) and the key hint."""
        prev_b, next_b = QPushButton("◀ Previous"), QPushButton("Next ▶")
        prev_b.clicked.connect(lambda: self.step(-1))
        next_b.clicked.connect(lambda: self.step(1))
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo_requested.emit)
        self.new_button = QPushButton("New class…")
        self.new_button.setToolTip("Create a class folder and put this image in it")
        nav = QHBoxLayout()
        for b in (prev_b, next_b, self.undo_button, self.new_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            nav.addWidget(b)
        self.key_hint = Hint(KEY_HINT)
        nav.addWidget(self.key_hint, 1)
        return nav

    def set_labeling(self, enabled: bool, why: str = "") -> None:
        """Labeling on, or off with the reason shown (a read-only folder); browsing stays."""
        self.labeling = enabled
        self.keys.set_enabled(enabled)
        for b in (self.undo_button, self.new_button):
            b.setEnabled(enabled)
        self.key_hint.show_text(KEY_HINT if enabled else f"Labeling is off: {why}. ←/→ still browse.",
                                warning=not enabled)
        self._rebuild_buttons()

    def _rebuild_buttons(self) -> None:
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for i, name in enumerate(self.state.classes):
            b = QPushButton(f"{i + 1}  {name}" if i < 9 else name)
            b.setEnabled(self.labeling)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setMinimumHeight(36)
            b.clicked.connect(lambda checked=False, n=name: self.assign(n))
            self.buttons.addWidget(b)

    def rebuild_queue(self) -> None:
        self._rebuild_buttons()
        entries = self.state.entries
        if self.mode.currentData() == UNLABELED_QUEUE:
            entries = [e for e in entries if e.label is None]
        self.queue = self._ordered([e.path for e in entries])
        self.pos = min(self.pos, max(len(self.queue) - 1, 0))
        self._show()

    def _ordered(self, paths: list[Path]) -> list[Path]:
        """By the suggestions' confidence when asked (active learning: least sure first)."""
        order = self.suggestions.order_key() if self.suggestions else "file"
        if order == "file":
            return paths

        def confidence(p: Path) -> float:
            s = self.suggestions.suggestion(p) if self.suggestions else None
            return s[1] if s else (2.0 if order == "least" else -1.0)  # no suggestion: last

        return sorted(paths, key=confidence, reverse=order == "most")

    def _suggested(self, path: Path) -> tuple[str, float] | None:
        """The run's suggestion for ``path``, when it names one of the dataset's classes."""
        s = self.suggestions.suggestion(path) if self.suggestions else None
        return s if s and s[0] in self.state.classes else None

    def accept_suggestion(self) -> None:
        """Enter: label the current image with the suggested class."""
        path = self.current_path()
        s = self._suggested(path) if path else None
        if s:
            self.assign(s[0])
        elif path and self._unsure(path):
            self.state.message.emit("the model is not sure about this photo: label it with its number key")

    def _unsure(self, path: Path) -> bool:
        """The run answered ``unknown`` for ``path`` (below its threshold): no class to suggest."""
        s = self.suggestions.suggestion(path) if self.suggestions else None
        return bool(s) and s[0] not in self.state.classes

    def accept_all(self, minimum: float) -> None:
        """Label every unlabeled image suggested at least ``minimum`` sure, as one undoable step."""
        pairs = [(e.path, s[0]) for e in self.state.unlabeled() if (s := self._suggested(e.path)) and s[1] >= minimum]
        if pairs:
            self.state.relabel(pairs)
        else:
            self.state.message.emit(f"no suggestion is at least {minimum:.0%} sure")

    def _entry(self, path: Path) -> Entry | None:
        return next((e for e in self.state.entries if e.path == path), None)

    def _show(self) -> None:
        if not self.queue:
            self.preview.clear()
            done = self.mode.currentData() == UNLABELED_QUEUE and self.state.root is not None
            self.preview.image.setText("Every image has a class." if done else "No images.")
            self.position.setText("")
            self.current_label.setText("")
            return
        path = self.queue[self.pos]
        entry = self._entry(path)
        s = self._suggested(path)
        hint = f" · suggested: <b>{s[0]}</b> ({s[1]:.0%}, Enter accepts)" if s else ""
        if not s and self._unsure(path):  # counted among the suggestions, so say what it was
            hint = " · the model is not sure (unknown): label it with its number key"
        label = entry.label if entry and entry.label else "none"
        self.current_label.setText(for_display(f"class: <b>{label}</b>{hint}"))
        self.position.setText(f"{self.pos + 1} / {len(self.queue)}")
        self.preview.show_image(path)

    def current_path(self) -> Path | None:
        return self.queue[self.pos] if self.queue else None

    def step(self, delta: int) -> None:
        if self.queue:
            self.pos = max(0, min(self.pos + delta, len(self.queue) - 1))
            self._show()

    def assign(self, label: str) -> None:
        path = self.current_path()
        if path and self.state.assign(path, label) and self.mode.currentData() == ALL_QUEUE:
            self.step(1)

    def _on_replayed(self, paths: list[Path]) -> None:
        """An undo (or redo) shows the photo it moved back, as the unlabeled queue does; the
        "All images" queue stayed on the photo after it."""
        if self.mode.currentData() == ALL_QUEUE and paths and paths[0] in self.queue:
            self.pos = self.queue.index(paths[0])
            self._show()

    def _on_moved(self, old: Path, entry: Entry) -> None:
        if self.suggestions is not None:
            self.suggestions.follow(old, entry.path, entry.label is not None)
        unlabeled_mode = self.mode.currentData() == UNLABELED_QUEUE
        if old in self.queue:
            i = self.queue.index(old)
            if unlabeled_mode and entry.label is not None:
                self.queue.pop(i)  # labeled: the next unlabeled image comes up
                self.pos = min(self.pos, max(len(self.queue) - 1, 0))
            else:
                self.queue[i] = entry.path
        elif unlabeled_mode and entry.label is None:  # an undo brought one back
            self.queue.insert(self.pos, entry.path)
        self._show()
