"""Review page: the images most likely mislabeled, duplicated or out of place, fixed by keyboard.

A review runs as a background job (``trainer review``); its suspects fill a grid, most
suspicious first. ``Enter`` accepts the suggestion, ``1``-``9`` choose a class, ``X`` marks
"not an issue" (remembered in the dataset), arrows move; near-duplicates show side by side
with "Keep this one" (the others go to ``_duplicates/``, never deleted). Every move is a
journal step: ``Ctrl+Z`` brings it back. The map tab shows every image by similarity.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.atomic import read_json, write_json
from trainer.csvfile import EvaluatedImage, ReviewRow, read_map, read_review
from trainer.datasets import Entry
from trainer.layout import detect
from trainer.pathtext import for_display
from trainer.protocol import Event, Status
from trainer.wording import count_of
from vehicleapp.commands import review_args, review_output, reviewed_by_path
from vehicleapp.dataset_state import DatasetState, SideStep
from vehicleapp.jobs import Job, JobRunner
from vehicleapp.models.review_model import DISMISSED, KINDS, SUSPECT_ROLE, ReviewFilter, ReviewModel, Suspect
from vehicleapp.review_marks import ReviewMarks
from vehicleapp.runs_state import RunsState
from vehicleapp.widgets.label_keys import LabelKeys
from vehicleapp.widgets.preview import Preview
from vehicleapp.widgets.review_map import ReviewMap
from vehicleapp.widgets.run_picker import (
    choose_run,
    fill_run_combo,
    forget_choice,
    run_combo,
    same_folder,
    user_choice,
)
from vehicleapp.widgets.text import ElidedLabel, Hint
from vehicleapp.widgets.why import WhyButton
from vehicleapp.workers import ThumbnailLoader


def rows_from_evaluation(results: list[EvaluatedImage], classes: list[str]) -> list[ReviewRow]:
    """A run's per-image results as review rows (for the confusion-matrix drill-down)."""
    rows = []
    for r in results:
        score = r.probs[classes.index(r.true_label)] if r.true_label in classes and r.probs else 0.0
        rows.append(ReviewRow(r.path, r.split, r.true_label, r.predicted_label, score,
                              r.true_label != r.predicted_label, None, False, r.probs))
    return sorted(rows, key=lambda r: (r.label_score, r.path))


class ReviewPage(QWidget):
    def __init__(self, state: DatasetState, runs: RunsState, runner: JobRunner, loader: ThumbnailLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.runs, self.runner = state, runs, runner
        self.job: Job | None = None
        self._review_run = ""  # the run the running review job uses
        self.marks: ReviewMarks | None = None
        self.classes: list[str] = []
        self._root: Path | None = None  # the dataset the run was chosen for
        self._hint = ""  # the status line's advice while nothing else is to say
        self._assigning = False  # a move this page makes (the row must not grab the selection)
        self.model = ReviewModel(loader, self)
        self.proxy = ReviewFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self.keys = LabelKeys(self, state, self.assign, focus=self.grid)
        for key, slot in (("Return", self.accept), ("Enter", self.accept), ("X", self.dismiss)):
            self.keys.bind(key, slot)
        state.loaded.connect(self._on_dataset)
        state.moved.connect(self._on_moved)
        runs.changed.connect(self._refresh_runs)
        runner.finished.connect(self._on_finished)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        top = self._top_bar()  # first: the detail panel's Why? asks for the chosen run
        self.tabs = QTabWidget()
        self.tabs.addTab(self._suspects(), "Suspects")
        self.map = ReviewMap()
        self.map.hovered.connect(self.preview_path)
        self.map.picked.connect(self.show_only)
        self.tabs.addTab(self.map, "Map")
        split = QSplitter()
        split.addWidget(self.tabs)
        split.addWidget(self._detail())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(split, 1)
        layout.addWidget(Hint("Keys: Enter accepts the suggestion · 1–9 choose a class · X not an issue (Show: "
                              "Marked not an issue takes it back) · arrows move · Ctrl+Z undoes"))

    def _top_bar(self) -> QHBoxLayout:
        self.run_combo = run_combo("The trained run whose backbone judges the images", 36)
        self.run_combo.activated.connect(lambda *_: self._show_hint())
        self.review_button = QPushButton("Review the dataset")
        self.review_button.setToolTip("Find likely wrong labels, near-duplicates and outliers (a background job)")
        self.review_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", enabled=False)
        self.stop_button.clicked.connect(self.runner.cancel)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = ElidedLabel("")
        bar = QHBoxLayout()
        for w in (QLabel("Run:"), self.run_combo, self.review_button, self.stop_button):
            bar.addWidget(w)
        bar.addWidget(self.status, 1)
        return bar

    def _suspects(self) -> QWidget:
        self.kind = QComboBox()
        for text, key in (*KINDS, DISMISSED):
            self.kind.addItem(text, key)
        self.kind.currentIndexChanged.connect(lambda: self.show_only(None))
        self.count = QLabel("")
        self.grid = QListView()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setModel(self.proxy)
        self.grid.setIconSize(self.model.loader.icon_size() if self.model.loader else self.grid.iconSize())
        icon, line = self.grid.iconSize(), self.grid.fontMetrics().lineSpacing()
        # room for a second caption line: "motorcycle → car" over "· 0.00", never "motorcycle → c…"
        self.grid.setGridSize(QSize(round(icon.width() * 1.35), round(icon.height() * 1.35) + line))
        self.grid.selectionModel().currentChanged.connect(self._on_current)
        row = QHBoxLayout()
        for w in (QLabel("Show:"), self.kind):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.count)
        panel = QWidget()
        v = QVBoxLayout(panel)
        v.addLayout(row)
        v.addWidget(self.grid, 1)
        return panel

    def _detail(self) -> QWidget:
        self.preview = Preview(side=480)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.accept_button = QPushButton("Accept suggestion (Enter)")
        self.accept_button.clicked.connect(self.accept)
        self.dismiss_button = QPushButton("Not an issue (X)")
        self.dismiss_button.clicked.connect(self.dismiss)
        self.keep_button = QPushButton("Keep this one, put the other copies aside")
        self.keep_button.setToolTip("The other images of this group move to _duplicates/ (never deleted; Ctrl+Z)")
        self.keep_button.clicked.connect(self.keep_one)
        self.group_view = QListView()
        self.group_view.setViewMode(QListView.ViewMode.IconMode)
        self.group_view.setFlow(QListView.Flow.LeftToRight)
        self.group_view.setMaximumHeight(150)
        self.group_model = ReviewModel(self.model.loader, self)
        self.group_view.setModel(self.group_model)
        self.group_view.setIconSize(self.grid.iconSize())
        self.why_button = WhyButton(self.runner, lambda: self.run_combo.currentData(),
                                    lambda: s.path if (s := self.current()) else None)
        self.why_button.ready.connect(lambda png: self.preview.show_image(png, self.why_button.photo))
        self.why_button.failed.connect(lambda m: self.status.setText(for_display(f"Heatmap: {m}")))
        for b in (self.accept_button, self.dismiss_button, self.keep_button, self.why_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        panel = QWidget()
        v = QVBoxLayout(panel)
        for w in (self.preview, self.detail, self.group_view, self.accept_button, self.dismiss_button,
                  self.keep_button, self.why_button):
            v.addWidget(w, 1 if w is self.preview else 0)
        self._show_suspect(None)
        return panel

    # -- data -----------------------------------------------------------------------------
    def _refresh_runs(self) -> None:
        """The runs again: the user's pick stays, else the best run trained on the open dataset."""
        fill_run_combo(self.run_combo, self.runs.runs(), str(self.state.root or ""), user_choice(self.run_combo))
        self._show_hint()

    def hint(self) -> str:
        """What to do next, as things stand: open a dataset, train a run, or review."""
        if self.state.root is None:
            return "Open a dataset (Dataset page), train a model, then review."
        if self.run_combo.count() == 0:
            return f"Train a model on {self.state.root.name} (Train page), then review."
        name = for_display(self.state.root.name)
        run = next((r for r in self.runs.runs() if str(r.path) == self.run_combo.currentData()), None)
        if run is not None and not same_folder(str(run.config.get("data", "")), str(self.state.root)):
            return (f"The chosen run was trained on {for_display(run.dataset)}, not on {name}: "
                    f"a run trained on {name} judges it better. Press Review the dataset to go ahead.")
        return f"Press Review the dataset: the chosen run looks for problems in {name}."

    def _show_hint(self) -> None:
        """Advice replaces only earlier advice (never a job's progress, a result or an error)."""
        if self.status.text() in ("", self._hint):
            self._hint = self.hint()
            self.status.setText(self._hint)

    def _on_dataset(self) -> None:
        if self.state.root != self._root:  # a run picked for the previous dataset is not kept
            self._root = self.state.root
            forget_choice(self.run_combo)
        self.marks = ReviewMarks(self.state.root) if self.state.root else None
        self._refresh_runs()
        out = review_output(self.state.root) if self.state.root else None
        if out is not None and out.is_file():
            self.load_review(out)
        else:
            self.model.set_rows(Path(), [], set())
            self.map.show_points([], [], [], [])
            self._update_count()
            self._hint = self.hint()
            self.status.setText(self._hint)

    def load_review(self, csv_path: Path) -> None:
        """Show a finished review (its CSV and map) for the open dataset."""
        if self.state.root is None:
            return
        try:
            self.classes, rows = read_review(csv_path)
        except (OSError, ValueError, IndexError) as exc:
            self.status.setText(for_display(f"Could not read the last review: {exc}"))
            return
        self._show_rows(rows)
        issues = count_of(sum(r.is_label_issue for r in rows), "likely wrong label")
        # the finding first: in a narrow window the run's name is what elides (the tooltip has it)
        self.status.setText(f"{issues} among {count_of(len(rows), 'image')}{self._reviewed_by(csv_path)}")
        map_csv = csv_path.with_name(csv_path.stem + "-map.csv")
        if map_csv.is_file():
            by_path = {r.path: r for r in rows}
            points = [(p, x, y) for p, x, y in read_map(map_csv) if p in by_path]
            now = self._places_now(rows)
            self.map.show_points([now[p][0] if p in now else self.state.root.joinpath(*p.split("/"))
                                  for p, _, _ in points],
                                 [(x, y) for _, x, y in points], [by_path[p].given_label for p, _, _ in points],
                                 [by_path[p].is_label_issue for p, _, _ in points])

    def _reviewed_by(self, csv_path: Path) -> str:
        """" · reviewed by <the run's name in the run box>" for the run that made this review, if
        known (after a restart the box shows the newest run, not necessarily the review's)."""
        try:
            run = str(read_json(reviewed_by_path(csv_path))["run"])
        except (OSError, ValueError, KeyError, TypeError):
            return ""
        i = self.run_combo.findData(run)
        return f" · reviewed by {self.run_combo.itemText(i) if i >= 0 else for_display(Path(run).name)}"

    def show_evaluation(self, results: list[EvaluatedImage], classes: list[str], root: Path, run: Path) -> None:
        """The confusion-matrix drill-down: ``run``'s images in this grid, with the same keys; the
        run box shows ``run`` (as if the user had picked it), so "Why?" explains that model."""
        choose_run(self.run_combo, str(run))
        self.classes = list(classes)
        self.model.set_rows(root, rows_from_evaluation(results, classes), self.marks.dismissed if self.marks else set())
        self.show_only({s.path for s in self.model.items})
        self.status.setText(f"{count_of(len(results), 'image')} from the confusion matrix")

    def _show_rows(self, rows: list[ReviewRow]) -> None:
        assert self.state.root is not None
        self.model.set_rows(self.state.root, rows, self.marks.dismissed if self.marks else set(),
                            self._places_now(rows))
        self.show_only(None)

    def _places_now(self, rows: list[ReviewRow]) -> dict[str, tuple[Path, str]]:
        """``{row path: (where the file is now, its class now)}`` for rows whose file moved since
        the review (relabeled in an earlier session): found among the dataset's images by what
        identifies an image across relabels (:meth:`trainer.layout.Layout.member_key`)."""
        root = self.state.root
        if root is None:
            return {}
        gone = [r for r in rows if not root.joinpath(*r.path.split("/")).exists()]
        if not gone:
            return {}
        layout = detect(root)
        here = {layout.member_key(e.path.relative_to(root).as_posix()): e for e in self.state.entries}
        found = [(r, here.get(layout.member_key(r.path))) for r in gone]
        return {r.path: (e.path, e.label or r.given_label) for r, e in found if e is not None}

    def show_only(self, paths: set[Path] | None) -> None:
        """Filter by the chosen kind, or show just ``paths`` (a map selection, a drill-down)."""
        self.proxy.set_kind(self.kind.currentData() or "label", paths)
        self._update_count()
        if self.proxy.rowCount():
            self.grid.selectionModel().setCurrentIndex(self.proxy.index(0, 0),
                                                       QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if paths:
                self.tabs.setCurrentIndex(0)
        else:
            self._show_suspect(None)

    def _update_count(self) -> None:
        picked = " (just those picked; choose a kind to see all)" if self.proxy.only is not None else ""
        self.count.setText(f"{self.proxy.rowCount()} shown{picked}")

    # -- the current suspect --------------------------------------------------------------
    def current(self) -> Suspect | None:
        idx = self.grid.selectionModel().currentIndex()
        return idx.data(SUSPECT_ROLE) if idx.isValid() else None

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_suspect(current.data(SUSPECT_ROLE) if current.isValid() else None)

    def preview_path(self, path: Path) -> None:
        """A map dot under the mouse: its photo, and the words that go with it (not the last one's)."""
        self.preview.show_image(path)
        s = next((x for x in self.model.items if x.path == path), None)
        if s is not None:
            self.detail.setText(self._detail_text(s) + "<br><i>on the map: click to pick it</i>")

    def _show_suspect(self, s: Suspect | None) -> None:
        group = self.model.group(s.row.duplicate_group) if s and s.row.duplicate_group is not None else []
        self.group_model.set_items(group)
        self.group_view.setVisible(bool(group))
        self.keep_button.setVisible(bool(group))
        self.accept_button.setEnabled(s is not None and not s.resolved)
        self.dismiss_button.setEnabled(s is not None)
        self.why_button.update_state()  # a photo to explain, or none
        self.dismiss_button.setText("It is an issue after all (X)" if s and s.dismissed else "Not an issue (X)")
        if s is None:
            self.preview.clear()
            self.detail.setText("Nothing to review here." if self.model.items else "")
            return
        self.preview.show_image(s.path)
        self.detail.setText(self._detail_text(s))

    def _detail_text(self, s: Suspect) -> str:
        group = self.model.group(s.row.duplicate_group) if s.row.duplicate_group is not None else []
        probs = " · ".join(f"{c} {p:.0%}" for c, p in zip(self.classes, s.row.probs))
        return for_display(
            f"<b>{s.row.path}</b> ({s.row.split})<br>labeled <b>{s.label}</b>; models trained without this photo "
            f"say <b>{s.row.suggested_label}</b> (label score {s.row.label_score:.2f})<br>{probs}"
            + ("<br>outlier: unlike the other images" if s.row.is_outlier else "")
            + (f"<br>near-duplicate group {s.row.duplicate_group}: {len(group)} images" if group else "")
            + "<br><i>(Why? shows the chosen run's own view, which has seen this photo: its figures can differ)</i>")

    def _on_moved(self, old: Path, entry: Entry) -> None:
        """A file moved (here, elsewhere, or by an undo): its row follows; one that comes back
        (an undone fix) becomes the current suspect again."""
        suspect = self.model.moved(old, entry.path, entry.label)
        self.proxy.invalidate()
        if suspect is not None and not self._assigning:  # the page's own fix moves on instead
            self._make_current(suspect)
        self._update_count()

    def _make_current(self, suspect: Suspect) -> None:
        """``suspect`` becomes the current one, where the grid lists it."""
        idx = self.proxy.mapFromSource(self.model.index(self.model.items.index(suspect)))
        if idx.isValid():
            self.grid.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _advance(self, row: int, s: Suspect | None = None) -> None:
        """Make the suspect at ``row`` current; the one after it when ``s`` (just handled) is still there."""
        if s is not None and self.proxy.mapFromSource(self.model.index(self.model.items.index(s))).isValid():
            row += 1
        if self.proxy.only is not None and not self.proxy.rowCount():  # the map's pick is done: the kind again
            self.show_only(None)
            return
        nxt = self.proxy.index(min(row, self.proxy.rowCount() - 1), 0)
        if nxt.isValid():
            self.grid.selectionModel().setCurrentIndex(nxt, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._update_count()

    # -- actions --------------------------------------------------------------------------
    def assign(self, label: str) -> None:
        """1-9 (or accept): move the current image into ``label`` (a journal step)."""
        s, row = self.current(), self.grid.selectionModel().currentIndex().row()
        if s is None or label == s.label:
            return
        self._assigning = True
        try:
            moved = self.state.assign(s.path, label)
        finally:
            self._assigning = False
        if moved:  # a class other than the suggestion keeps the row a suspect: the next one is current
            self.proxy.invalidate()
            self._advance(row, s)

    def accept(self) -> None:
        s = self.current()
        if s is not None and not s.resolved:
            self.assign(s.row.suggested_label)

    def dismiss(self) -> None:
        """X: mark the current suspect not an issue; in the *Marked not an issue* view, take the
        mark back (a slip of X is never final). Either is a step Ctrl+Z takes back."""
        s, row = self.current(), self.grid.selectionModel().currentIndex().row()
        if s is None or self.marks is None:
            return
        rel, marks, dismissed = s.row.path, self.marks, not s.dismissed
        self._set_mark(marks, rel, dismissed)
        self._advance(row)
        self.state.record(SideStep(undo=lambda: self._set_mark(marks, rel, not dismissed, show=True),
                                   redo=lambda: self._set_mark(marks, rel, dismissed, show=True)))

    def _set_mark(self, marks: ReviewMarks, rel: str, dismissed: bool, show: bool = False) -> str:
        """Mark (or unmark) the suspect at ``rel`` not an issue; what happened, in words. ``show``
        (an undo or redo): the suspect becomes current where the grid lists it."""
        marks.set_dismissed(rel, dismissed)
        found = [s for s in self.model.items if s.row.path == rel]
        for s in found:
            s.dismissed = dismissed
            self.model.changed(s)
        self.proxy.invalidate()
        if show and found:
            self._make_current(found[0])
        self._update_count()
        name = Path(rel).name
        return f"{name} marked not an issue" if dismissed else f"{name} is a suspect again"

    def keep_one(self) -> None:
        s = self.current()
        if s is None or s.row.duplicate_group is None:
            return
        others = [g.path for g in self.model.group(s.row.duplicate_group) if g is not s]
        self.state.set_aside(others)

    # -- the job --------------------------------------------------------------------------
    def start(self) -> Job | None:
        run = self.run_combo.currentData()
        if self.state.root is None or not run:
            self.status.setText(self.hint())  # what is missing: a dataset, or a run trained on it
            return None
        out = review_output(self.state.root)
        out.parent.mkdir(parents=True, exist_ok=True)
        job = self.runner.run(review_args(self.state.root, Path(run), out), "Review")
        if job is None:
            self.status.setText("Another job is running; stop it first.")
            return None
        self.job, self._review_run = job, str(run)
        job.event.connect(self._on_event)
        self.review_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.status.setText("Reviewing…")
        return job

    def _on_event(self, e: dict) -> None:
        if e["event"] == Event.PROGRESS:
            self.progress.setMaximum(max(int(e["total"]), 1))
            self.progress.setValue(int(e["done"]))
            what = {"features": "Computing features", "review": "Cross-validating"}.get(e["phase"], e["phase"])
            self.status.setText(f"{what}: {e['done']} / {e['total']}")

    def _on_finished(self, job: Job, status: str, message: str) -> None:
        if job is not self.job:
            return
        self.review_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setVisible(False)
        if status == Status.DONE and self.state.root is not None:
            out = review_output(self.state.root)
            # which run made it, shown with the review now and after a restart (unwritable: the
            # review itself is whole, only its "by …" goes unsaid)
            with contextlib.suppress(OSError):
                write_json(reviewed_by_path(out), {"run": self._review_run})
            self.load_review(out)
        else:
            self.status.setText("Stopped." if status == Status.CANCELLED else for_display(f"Failed: {message}"))
