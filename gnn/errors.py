"""The gnn package's errors, each with a message that says what to do next."""

from __future__ import annotations


class TrainingDataError(ValueError):
    """The training cohort cannot support training (too few labels of a class)."""


class ImmatureLabelsError(ValueError):
    """A training cohort's labels were not yet observable at the date the model is used.

    A cohort scored at ``D`` is labelled by what happened over ``(D, D + horizon]``; a model
    tested or deployed before ``D + horizon`` learned from outcomes nobody could have known.
    """
