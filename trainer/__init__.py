"""Qt-free engine: datasets, the four transfer-learning models, training, runs and the CLI."""

__version__ = "0.1.0"
