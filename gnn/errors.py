"""The gnn package's errors, each with a message that says what to do next."""

from __future__ import annotations

from loaders.labels import ImmatureLabelsError

__all__ = ["ImmatureLabelsError", "TrainingDataError"]


class TrainingDataError(ValueError):
    """The training cohort cannot support training (too few labels of a class)."""
