"""Dataset page: open a folder, see its layout, class counts, thumbnails and bad files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.datasets import Entry
from trainer.pathtext import for_display
from trainer.wording import count_of
from vehicleapp import dialogs
from vehicleapp.dataset_state import DatasetState
from vehicleapp.models.thumbnails import LABEL_ROLE, PATH_ROLE, UNLABELED, ThumbnailFilter, ThumbnailModel
from vehicleapp.widgets.badges import ClassBadgeDelegate
from vehicleapp.widgets.charts import CountsChart, in_split_order
from vehicleapp.widgets.label_keys import LabelKeys
from vehicleapp.widgets.preview import Preview
from vehicleapp.widgets.text import ElidedLabel, Hint
from vehicleapp.workers import ThumbnailLoader


class ThumbnailGrid(QListView):
    """Icon grid with extended selection; the page's LabelKeys send the selection to a class."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setSpacing(4)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)


KEY_HINT = "Keys 1–9 move the selected images to a class · right-click for more · Ctrl+Z undoes"
LAYOUT_HELP = ("Expected: one subfolder per class (FOLDER/car/*.jpg, FOLDER/truck/*.jpg, …), a "
               "train/ val/ test/ export, or loose photos to label.")


class DatasetPage(QWidget):
    open_requested = Signal(str)
    demo_requested = Signal()
    runs_requested = Signal()
    undo_requested = Signal()  # the window undoes (a journal step, so it can be redone)

    def __init__(self, state: DatasetState, loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setAcceptDrops(True)
        self.model = ThumbnailModel(loader, self)
        self.proxy = ThumbnailFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        self.keys = LabelKeys(self, state, self.assign_selected, focus=self.grid)
        state.loading.connect(lambda root: self.summary.setText(f"Scanning {root} …"))
        state.loaded.connect(self._on_loaded)
        state.moved.connect(self._on_moved)
        state.classes_changed.connect(self._refresh_classes)
        state.problems.connect(self._on_problems)
        state.failed.connect(lambda msg: self.summary.setText(f"Could not open: {msg}"))

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        """Toolbar on top; below it a splitter: overview | filters and grid | preview."""
        top = self._toolbar()
        left = self._overview()
        center = self._center()
        self.preview = Preview()
        splitter = QSplitter()
        for w, stretch in ((left, 2), (center, 5), (self.preview, 3)):
            splitter.addWidget(w)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([300, 700, 380])
        root = QVBoxLayout(self)
        root.addLayout(top)
        root.addWidget(splitter, 1)

    def _toolbar(self) -> QHBoxLayout:
        """Open folder, Recent, Use demo dataset and the open folder's path."""
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip(
            "Open a folder of photos: ROOT/<class>/*.jpg or ROOT/train|val|test/<class>/ (Ctrl+O)")
        self.open_button.clicked.connect(self.choose_folder)
        self.recent_button = QPushButton("Recent")  # a push button's menu arrow has room of its own
        self.recent_button.setToolTip("Open one of the folders opened before")
        self.recent_button.setMenu(QMenu(self))
        self.demo_button = QPushButton("Use demo dataset")
        self.demo_button.setToolTip("Generate (once) and open the built-in demo dataset of drawn vehicles")
        self.demo_button.clicked.connect(self.demo_requested.emit)
        self.path_label = ElidedLabel("No folder open.", mode=Qt.TextElideMode.ElideMiddle)
        top = QHBoxLayout()
        for w in (self.open_button, self.recent_button, self.demo_button):
            top.addWidget(w)
        top.addWidget(self.path_label, 1)
        return top

    def _overview(self) -> QWidget:
        """Left column: layout summary, class-count chart, files not used (unreadable, not photos)."""
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.counts = CountsChart()
        self.problems = QListWidget()
        self.problems.setToolTip("Files that cannot be read or are not photos; training and classification skip them")
        self.problems.setWordWrap(True)  # a narrow column shows each reason whole, on more lines
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problems.setResizeMode(QListView.ResizeMode.Adjust)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(self.summary)
        lv.addWidget(self.counts, 1)
        lv.addWidget(QLabel("Files not used"))
        lv.addWidget(self.problems)
        return left

    def _center(self) -> QWidget:
        """Middle column: filters, then the welcome panel or the grid, then the key hint."""
        filters = self._filters()
        self.grid = self._grid()
        self.center_stack = QStackedWidget()
        self.center_stack.addWidget(self._welcome())
        self.center_stack.addWidget(self.grid)
        center = QWidget()
        cv = QVBoxLayout(center)
        cv.addLayout(filters)
        cv.addWidget(self.center_stack, 1)
        self.key_hint = Hint(KEY_HINT)
        cv.addWidget(self.key_hint)
        return center

    def _filters(self) -> QHBoxLayout:
        """Class and split filters, and how many images they show."""
        self.class_filter = QComboBox()
        self.class_filter.setToolTip("Show one class only")
        self.class_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.split_filter = QComboBox()
        self.split_filter.setToolTip("Show one split only (train / val / test exports)")
        self.class_filter.currentIndexChanged.connect(self._apply_filter)
        self.split_filter.currentIndexChanged.connect(self._apply_filter)
        self.count_label = QLabel("")  # whole, never "300 o…": the columns beside give way instead
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Class:"))
        filters.addWidget(self.class_filter)
        filters.addWidget(QLabel("Split:"))
        filters.addWidget(self.split_filter)
        filters.addWidget(self.count_label, 1)
        return filters

    def _grid(self) -> ThumbnailGrid:
        """The thumbnail grid on the filtered model: selection previews, right-click menu."""
        grid = ThumbnailGrid()
        grid.setModel(self.proxy)
        grid.setIconSize(self.model.loader.icon_size())
        grid.setGridSize(self.model.loader.icon_size() * 1.25)
        grid.selectionModel().currentChanged.connect(self._on_current)
        grid.setItemDelegate(ClassBadgeDelegate(LABEL_ROLE, lambda: self.state.classes,
                                                lambda: not self.filter_label(), grid))
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        grid.customContextMenuRequested.connect(self._context_menu)
        return grid

    def _welcome(self) -> QWidget:
        """What a new user sees before any folder is open: the demo dataset, one click away."""
        panel = QWidget()
        text = QLabel(
            "<h2>Welcome</h2><p>Open a folder of vehicle photos — one subfolder per class "
            "(<i>car/</i>, <i>truck/</i>, …) or a Kaggle/Roboflow export with <i>train/ val/ test/</i> — "
            "or drop it here.</p><p>No photos at hand? The demo dataset (180 drawn cars, trucks and "
            "motorcycles) lets you try labeling, training and classifying right away.</p>")
        text.setWordWrap(True)
        text.setMaximumWidth(560)
        demo = QPushButton("Try the demo dataset")
        demo.setMinimumHeight(40)
        demo.clicked.connect(self.demo_requested.emit)
        own = QPushButton("Open a folder…")
        own.setMinimumHeight(40)
        own.clicked.connect(self.choose_folder)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(demo)
        buttons.addWidget(own)
        buttons.addStretch(1)
        self.runs_link = QLabel("")  # after `trainer demo`: its run is one click away
        self.runs_link.setWordWrap(True)
        self.runs_link.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.runs_link.linkActivated.connect(lambda _link: self.runs_requested.emit())
        centred = QHBoxLayout()  # not an alignment flag: that would cut the wrapped text's height
        centred.addStretch(1)
        centred.addWidget(text, 100)
        centred.addStretch(1)
        layout = QVBoxLayout(panel)
        layout.addStretch(1)
        layout.addLayout(centred)
        layout.addLayout(buttons)
        layout.addWidget(self.runs_link)
        layout.addStretch(2)
        return panel

    def set_run_count(self, n: int) -> None:
        """The welcome panel points to trained runs (e.g. the one `trainer demo` made)."""
        self.runs_link.setText(f"{n} trained run{'s' * (n != 1)} in the checkpoints folder: "
                               "<a href='runs'>see them on the Runs page</a>" if n else "")

    # -- opening --------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = dialogs.ask_folder(self)
        if folder:
            self.open_requested.emit(folder)

    def set_recent(self, folders: list[str]) -> None:
        menu = self.recent_button.menu()
        menu.clear()
        for folder in folders:
            action = QAction(folder, menu)
            action.triggered.connect(lambda checked=False, f=folder: self.open_requested.emit(f))
            menu.addAction(action)
        self.recent_button.setEnabled(bool(folders))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if Path(url.toLocalFile()).is_dir():
                self.open_requested.emit(url.toLocalFile())
                return

    # -- state updates --------------------------------------------------------------------
    def _on_loaded(self) -> None:
        s = self.state
        self.model.loader.clear()
        self.model.set_entries(s.entries)
        self.center_stack.setCurrentWidget(self.grid)
        self.path_label.setText(str(s.root))
        self._refresh_classes()
        splits = sorted({e.split for e in s.entries if e.split})
        self.split_filter.blockSignals(True)
        self.split_filter.clear()
        self.split_filter.addItem("All", "")
        for split in splits:
            self.split_filter.addItem(split, split)
        self.split_filter.setEnabled(bool(splits))
        self.split_filter.blockSignals(False)
        self.problems.clear()
        self.problems.addItem("checking every image in the background…")
        self.preview.clear()  # nothing of the previous folder stays on show
        self._apply_filter()

    def _refresh_classes(self) -> None:
        """The class filter's items carry an index into ``self._filter_labels``: class names are
        folder names, and a Qt string cannot hold every one (e.g. Latin-1 bytes)."""
        s = self.state
        current = self.filter_label()
        self._filter_labels = ["", *s.classes, *([UNLABELED] if s.unlabeled() else [])]
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        for i, label in enumerate(self._filter_labels):
            text = "All" if not label else label if label == UNLABELED or i > 9 else f"{i}  {label}"
            self.class_filter.addItem(for_display(text), i)
        idx = self._filter_labels.index(current) if current in self._filter_labels else 0
        self.class_filter.setCurrentIndex(idx)
        self.class_filter.blockSignals(False)
        self._update_summary()

    def show_class(self, label: str) -> None:
        """Filter the grid by ``label`` (a class, UNLABELED, or "" for all)."""
        labels = getattr(self, "_filter_labels", [""])
        self.class_filter.setCurrentIndex(labels.index(label) if label in labels else 0)

    def filter_label(self) -> str:
        """The class (or UNLABELED) the grid is filtered by; "" for all."""
        i = self.class_filter.currentData()
        labels = getattr(self, "_filter_labels", [""])
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else ""

    def _update_summary(self) -> None:
        s = self.state
        counts = s.counts()
        total = sum(sum(r.values()) for r in counts.values())
        layout = "train/val/test export" if s.layout == "splits" else "one folder per class"
        bad = len(s.unreadable)
        if not s.entries:
            self.summary.setText(f"<b>No images in this folder.</b><br>{LAYOUT_HELP}")
        elif bad == len(s.entries):
            self.summary.setText(f"<b>None of the {bad} files is a readable image.</b><br>{LAYOUT_HELP}")
        else:
            self.summary.setText(
                f"<b>{layout}</b><br>{count_of(len(s.classes), 'class', 'classes')}: {', '.join(s.classes) or '–'}<br>"
                f"{count_of(total, 'labeled image')}, {len(s.unlabeled())} unlabeled"
                + (f"<br>{bad} of them unreadable" if bad else "")
                + (f"<br>splits: {', '.join(in_split_order(counts))}" if s.layout == "splits" else ""))
        self.counts.show_counts(counts)

    def _on_problems(self, failed: dict) -> None:
        self.problems.clear()
        root = self.state.root or Path("/")
        for path, reason in sorted(failed.items()):
            item = QListWidgetItem(for_display(f"{Path(path).relative_to(root)} — {reason}"))
            item.setToolTip(item.text())  # whole, also where the column is too narrow for it
            self.problems.addItem(item)
        for path in self.state.not_photos:
            item = QListWidgetItem(for_display(f"{path.relative_to(root)} — not a photo"))
            item.setToolTip(item.text())
            self.problems.addItem(item)
        if not failed and not self.state.not_photos:
            self.problems.addItem("none: every image can be read" if self.state.entries else "no images here")
        self._update_summary()
        self._apply_filter()

    def _on_moved(self, old: Path, entry: Entry) -> None:
        self.model.replace_path(old, entry)
        self.preview.follow(old, entry.path)
        self._update_summary()
        self._apply_filter()

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.filter_label(), self.split_filter.currentData() or "")
        bad = len(self.state.unreadable)
        self.count_label.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} files"
                                 + (f" · {bad} unreadable" if bad else ""))
        if not self.grid.currentIndex().isValid():
            self.preview.clear()  # the previewed image is no longer listed

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.preview.show_image(current.data(PATH_ROLE))
        else:
            self.preview.clear()

    def set_labeling(self, enabled: bool, why: str = "") -> None:
        """Labeling on, or off with the reason shown (a read-only folder); browsing stays."""
        self.keys.set_enabled(enabled)
        self.key_hint.show_text(KEY_HINT if enabled else f"Labeling is off: {why}.", warning=not enabled)

    # -- labeling -------------------------------------------------------------------------
    def selected_paths(self) -> list[Path]:
        return [i.data(PATH_ROLE) for i in self.grid.selectionModel().selectedIndexes()]

    def assign_selected(self, label: str) -> None:
        paths = self.selected_paths()
        if not paths:
            return  # nothing selected: a number key must not select (and preview) the first image
        row = min(i.row() for i in self.grid.selectionModel().selectedIndexes())
        self.state.assign_many(paths, label)  # one step: one Ctrl+Z takes back the whole selection
        nxt = self.proxy.index(min(row, self.proxy.rowCount() - 1), 0)
        if nxt.isValid():
            self.grid.selectionModel().setCurrentIndex(nxt, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._on_current(self.grid.currentIndex(), QModelIndex())  # the same row may hold another image

    def _context_menu(self, pos) -> None:  # noqa: ANN001
        if not self.selected_paths() or not self.keys.enabled:
            return
        menu = QMenu(self)
        move = menu.addMenu("Move to class")
        for i, c in enumerate(self.state.classes):
            move.addAction(f"{c}\t{i + 1}" if i < 9 else c, lambda c=c: self.assign_selected(c))
        menu.addAction("New class…", self.keys.new_class)
        menu.addSeparator()
        menu.addAction("Undo last step\tCtrl+Z", self.undo_requested.emit)
        menu.exec(self.grid.viewport().mapToGlobal(pos))
