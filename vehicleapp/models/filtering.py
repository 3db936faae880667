"""A proxy base that changes its filter the way the running Qt version wants."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSortFilterProxyModel


class FilterProxy(QSortFilterProxyModel):
    def refilter(self, change: Callable[[], None]) -> None:
        """Apply ``change`` (which sets filter fields) and re-run the filter."""
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10: invalidateFilter is deprecated
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()
