"""The labeling keys, written once for every page that labels images (Dataset grid, Labeling, …).

Keys 1-9 assign class N and "New class…" asks for a name, creates the class and assigns it. The
keys are QShortcuts scoped to the page (``WidgetWithChildrenShortcut``), so they work whichever
child has the focus (the "Go through" combo box, the grid, the page itself) and never on another
page. Keys a child needs for itself are left to it: a line edit keeps its typing (Qt's shortcut
override), an open combo-box popup keeps its arrows and type-ahead (``eventFilter`` below), and a
page only binds arrows when asked (the Dataset grid moves its selection with them).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QWidget

from vehicleapp import dialogs
from vehicleapp.dataset_state import DatasetState
from vehicleapp.labeling import class_name_problem

NAVIGATION = (("Right", 1), ("Down", 1), ("Space", 1), ("Left", -1), ("Up", -1))


class LabelKeys(QObject):
    """Binds the labeling keys on ``page``; ``assign(label)`` labels what the page has selected.

    ``step(delta)``, when given, binds ←/→/↑/↓/space to it. ``focus`` (default: the page) takes the
    keyboard focus when the page is shown while the focus is outside it (on the tab bar, where it
    sits after start-up, the keys would be dead); it is skipped while hidden inside the page.
    """

    def __init__(self, page: QWidget, state: DatasetState, assign: Callable[[str], object],
                 step: Callable[[int], object] | None = None, focus: QWidget | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.state = state
        self._assign = assign
        self._focus = focus if focus is not None else page
        self.shortcuts: list[QShortcut] = []
        for n in range(1, 10):
            self._bind(str(n), lambda i=n - 1: self.assign_number(i))
        self.number_keys = list(self.shortcuts)
        self.enabled = True
        if step is not None:
            for key, delta in NAVIGATION:
                self._bind(key, lambda d=delta: step(d))
        self._keys = {s.key()[0].key() for s in self.shortcuts}
        page.installEventFilter(self)
        for combo in page.findChildren(QComboBox):
            combo.view().installEventFilter(self)

    def bind(self, key: str, slot: Callable[[], object]) -> None:
        """Another key of this page (e.g. Enter), scoped like the labeling keys."""
        self._bind(key, slot)
        self._keys.add(self.shortcuts[-1].key()[0].key())

    def _bind(self, key: str, slot: Callable[[], object]) -> None:
        shortcut = QShortcut(QKeySequence(key), self.page)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        self.shortcuts.append(shortcut)

    def set_enabled(self, enabled: bool) -> None:
        """Labeling on or off (a read-only folder); navigation keys keep working."""
        self.enabled = enabled
        for shortcut in self.number_keys:
            shortcut.setEnabled(enabled)

    def assign_number(self, index: int) -> None:
        """Key ``index + 1``: assign the class shown with that number (classes are sorted)."""
        n = len(self.state.classes)
        if index < n:
            self._assign(self.state.classes[index])
            return
        have = f"{n} classes (1-{n})" if n > 1 else "1 class (1)" if n else "no classes yet (New class… adds one)"
        self.state.message.emit(f"no class {index + 1}: this dataset has {have}")

    def new_class(self) -> None:
        """Ask for a name, create the class folder and assign the selection to it. A name that
        cannot be a class asks again, with the reason and the name as typed, to correct it."""
        if not self.enabled:
            return
        name, problem = "", None
        while True:
            why = f"Invalid class name: {problem}.\n\n" if problem else ""
            name = dialogs.ask_text(self.page, "New class", f"{why}Name of the new class:", name)
            problem = class_name_problem(name) if name else None
            if not problem:
                break
        if name and self.state.add_class(name):
            self._assign(name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ShortcutOverride and watched is not self.page:
            # A combo box's open popup (its view has the focus): the popup keeps its own keys.
            plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier
            if plain and event.key() in self._keys:
                event.accept()
                return True
        elif event.type() == QEvent.Type.Show and watched is self.page and not event.spontaneous():
            self._take_focus()
        return False

    def _take_focus(self) -> None:
        focused = self.page.window().focusWidget()
        if focused is not None and self.page.isAncestorOf(focused):
            return
        if self._focus is self.page or self._focus.isVisibleTo(self.page):
            self._focus.setFocus(Qt.FocusReason.OtherFocusReason)
