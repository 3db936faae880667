"""PySide6 desktop app: a client of the Qt-free ``trainer`` engine."""

__version__ = "0.1.0"
