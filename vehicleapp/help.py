"""Help for a newcomer: the keyboard shortcuts and a short tour of the five pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

#: Keys that are not menu actions (the labeling keys are shortcuts of the labeling pages).
PAGE_KEYS = (
    ("1 – 9", "Put the selected image(s) into class 1 – 9 (Dataset grid, Labeling and Review pages)"),
    ("← → Space", "Previous / next image (Labeling page)"),
    ("Enter", "Accept the model's suggestion for the image (Labeling and Review pages)"),
    ("X", "Not an issue: the image's label is right (Review page)"),
    ("Ctrl+1 – Ctrl+6", "Go to the Dataset, Labeling, Train, Runs, Classify or Review page"),
)

TOUR = (
    ("Dataset", "Open a folder of photos with one subfolder per class (car/, truck/, …), drop it on the "
                "window, or try the demo dataset. You see the classes, how many photos each has, and any "
                "file it will not use (unreadable, or not a photo)."),
    ("Labeling", "Go through photos without a class: press 1 – 9 to put each one into a class. "
                 "Ctrl+Z undoes the last move or review mark, Ctrl+Shift+Z redoes it."),
    ("Train", "Pick a model and press Start training. The backbone weights line tells you before you start "
              "whether the pretrained weights are here, will download, or need a file. Curves show "
              "how well the model learns. Find the best model tries several ways within a time "
              "budget and picks the best one for you."),
    ("Runs", "Every training run, with its dataset, weights and image size. Select several to compare "
             "their curves, Evaluate one for its confusion matrix, or Resume a stopped one."),
    ("Classify", "Try one photo to see what the model says, or classify a whole folder into a table "
                 "you can filter and export as CSV."),
    ("Review", "Let a trained model point at photos that look wrongly labeled, duplicated or out of "
               "place, and fix them with one key each (every fix can be undone)."),
)


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut, then the pages' own keys."""
    rows = []
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows + list(PAGE_KEYS)


def shortcuts_html(actions: Sequence[QAction]) -> str:
    cells = "".join(f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>"
                    for keys, what in shortcut_rows(actions))
    return f"<table cellspacing='3'>{cells}</table>"


class Tour(QDialog):
    """Five short steps, one per page; each step shows its page behind the dialog."""

    def __init__(self, parent: QWidget, show_page: Callable[[int], None]) -> None:
        super().__init__(parent)
        self.setWindowTitle("A short tour")
        self.show_page = show_page
        self.step = 0
        self.title = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setMinimumWidth(360)
        self.back = QPushButton("Back")
        self.back.clicked.connect(lambda: self.go(self.step - 1))
        self.next = QPushButton("Next")
        self.next.clicked.connect(self._next)
        skip = QPushButton("Close")
        skip.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (skip, self.back, self.next):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        self.setWindowFlag(Qt.WindowType.Tool)
        # tall enough for the longest step: the dialog is sized once (a step's text was cut off)
        self.text.ensurePolished()  # the style sheet's font, which is larger than the default
        heights = []
        for _page, text in TOUR:
            self.text.setText(text)
            heights.append(self.text.heightForWidth(self.text.minimumWidth()))
        self.text.setMinimumHeight(max(heights))
        self.go(0)

    def go(self, step: int) -> None:
        self.step = max(0, min(step, len(TOUR) - 1))
        page, text = TOUR[self.step]
        self.title.setText(f"<h3>{self.step + 1} of {len(TOUR)} · {page}</h3>")
        self.text.setText(text)
        self.back.setEnabled(self.step > 0)
        self.next.setText("Done" if self.step == len(TOUR) - 1 else "Next")
        self.show_page(self.step)

    def _next(self) -> None:
        if self.step == len(TOUR) - 1:
            self.close()
        else:
            self.go(self.step + 1)
