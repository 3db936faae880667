"""The live leaderboard of a ``trainer search``: one row per step, the best validation accuracy first.

It reads the search's own events (those without ``search_step``; a step's training run sends
its events too, and its ``done`` is not the search's end): ``start``, ``stage``, ``progress``
(phase ``search``), ``candidate`` (the whole leaderboard so far) and the final ``done`` (the
pick, whose row is then marked).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from trainer.protocol import Event
from vehicleapp.models.runs_model import duration_text
from vehicleapp.widgets.text import ElidedLabel

COLUMNS = ("Step", "Method", "Val", "Test", "Time", "Status")
HEADER_TIPS = {"Val": "Validation accuracy (with the test-time augmentation the step chose): the pick is made on it",
               "Test": "Accuracy on the test split, when the dataset has one: only reported, never used to pick",
               "Time": "How long the step took", "Status": "done, skipped or cut by the budget; the reason is "
               "in the row's tooltip"}
STATUS_WORDS = {"done": "done", "skipped": "skipped", "cut": "cut", "planned": "to do"}
WINNER_MARK = "★ "
WINNER_BACKGROUND = "#fff4c2"
CANDIDATE = "candidate"  # the search's event for a finished (or skipped) step


def is_search_event(e: dict) -> bool:
    """True for an event of the search itself, not of one of its steps' runs (those carry
    ``search_step``; the search's own start and done name its folder, so a step's done that
    lacks ``search_step`` is still not taken for the search's end)."""
    kind = e.get("event")
    if "search_step" in e:
        return False
    if kind in (Event.START, Event.DONE):
        return "search_dir" in e
    if kind == Event.PROGRESS:
        return e.get("phase") == "search"
    return kind in (Event.STAGE, CANDIDATE)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


class Leaderboard(QWidget):
    """A one-line summary of the search above its table of steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = ElidedLabel("")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, name in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(c).setToolTip(HEADER_TIPS.get(name, ""))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Method"), QHeaderView.ResizeMode.Stretch)
        header.setMaximumSectionSize(170)  # a long step name elides at 1024 px: the method needs room
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)  # one line per step: long names elide (the tooltip has the rest)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.rows: list[dict] = []
        self.winner = ""  # the picked run's folder, once the search is done
        self.picked = ""  # the search's closing sentence
        self._step, self._deadline = "", 0.0  # the step under way; when the budget runs out
        self._clock = QTimer(self, interval=1000)  # the time left counts down during a long step
        self._clock.timeout.connect(self._tick)

    def reset(self, minutes: float) -> None:
        self.stop_clock()
        self.rows, self.winner, self.picked = [], "", ""
        self.table.setRowCount(0)
        self.summary.setText(f"Finding the best model within {minutes:g} min: measuring this computer's speed…")

    def on_event(self, e: dict) -> str:
        """Take one of the search's own events; returns a line for the log ("" for none)."""
        kind = e["event"]
        if kind == Event.START:
            return f"search: {e.get('images', '?')} images, budget {_clock(float(e.get('budget_s', 0)))}"
        if kind == Event.STAGE:
            return f"search: {e.get('message', '')}"
        if kind == Event.PROGRESS:
            self._step = f"Step {int(e['done']) + 1}: {e.get('note', '')}"
            self._deadline = time.monotonic() + float(e.get("eta_s", 0))
            self._tick()
            self._clock.start()
            return ""
        self.show_rows(list(e.get("leaderboard", [])), str(e.get("run_dir", "")) if kind == Event.DONE else "")
        if kind == Event.DONE:
            self.stop_clock()
            self.picked = str(e.get("message", ""))
            self.summary.setText(f"Done: {self.picked}")
            return f"search: {self.picked}"
        result = f", val acc {_pct(e['val_acc'])}" if e.get("val_acc") is not None else ""
        reason = f" ({e['reason']})" if e.get("reason") else ""
        return f"search step {e.get('name')}: {STATUS_WORDS.get(e.get('status', ''), e.get('status'))}{result}{reason}"

    def _tick(self) -> None:
        left = self._deadline - time.monotonic()
        self.summary.setText(f"{self._step} · about {_clock(left)} of the budget left" if left > 0
                             else f"{self._step} · the budget is used: finishing")

    def stop_clock(self) -> None:
        """The search ended (done, stopped or failed): the time left stops counting."""
        self._clock.stop()

    def show_rows(self, rows: list[dict], winner: str = "") -> None:
        """The leaderboard as the search sent it (best first); ``winner`` is the picked run's folder."""
        self.rows, self.winner = rows, winner
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            self._fill_row(r, row, bool(winner) and row.get("run_dir") == winner)
        won = self.winner_row()
        if won is not None:  # a short table had the pick out of sight
            self.table.doItemsLayout()  # new rows: the scroll range is not set until laid out
            self.table.scrollToItem(self.table.item(won, 0))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """A step name may take up to a third of the table: whole at 1280 px ("ensemble of the best
        two" read "ensemble o…e best two" beside a half-empty Method column), elided at 1024."""
        super().resizeEvent(event)
        self.table.horizontalHeader().setMaximumSectionSize(max(170, self.table.viewport().width() // 3))

    def _fill_row(self, r: int, row: dict, won: bool) -> None:
        method = str(row.get("method", ""))
        if row.get("tta") and row["tta"] != "off":
            method += f" · TTA {row['tta']}"
        status = STATUS_WORDS.get(str(row.get("status", "")), str(row.get("status", "")))
        texts = ((WINNER_MARK if won else "") + str(row.get("name", "")), method, _pct(row.get("val_acc")),
                 _pct(row.get("test_acc")), duration_text(float(row.get("seconds") or 0)), status)
        tip = str(row.get("reason") or row.get("run_dir") or "")
        for c, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            if COLUMNS[c] in ("Val", "Test", "Time"):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if won:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
                item.setBackground(QBrush(QColor(WINNER_BACKGROUND)))
                item.setForeground(QBrush(QColor("black")))  # readable on the light mark in a dark theme
            self.table.setItem(r, c, item)

    def winner_row(self) -> int | None:
        """The marked row (None before the search's end)."""
        return next((i for i, row in enumerate(self.rows) if self.winner and row.get("run_dir") == self.winner), None)
