"""Score scale and risk grades: turn a calibrated probability of default into numbers a lender's
policies use.

A points-to-double-the-odds (PDO) scale, the usual scorecard convention::

    odds  = (1 - pd) / pd                      (good:bad, so higher score = safer)
    factor = pdo / ln 2
    offset = base_score - factor * ln(base_odds)
    score = clip(offset + factor * ln(odds), min_score, max_score)

so a score of ``base_score`` means odds of ``base_odds``:1 and every ``pdo`` points double them.
Grades are bands of the score with configurable lower bounds (best grade first).
Pure arithmetic: no model, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

#: PDs are clipped into this range before taking odds (isotonic fits can return 0 or 1).
PD_FLOOR = 1e-6
PD_CEILING = 1.0 - 1e-6


@dataclass(frozen=True)
class ScoreScale:
    """A PDO scale; see the module docstring. Defaults are the ``default`` preset (350-950)."""

    base_score: float = 650.0
    base_odds: float = 50.0
    pdo: float = 45.0
    min_score: float = 350.0
    max_score: float = 950.0
    name: str = "default"

    def __post_init__(self) -> None:
        if self.pdo <= 0:
            raise ValueError(f"points to double the odds must be positive, got {self.pdo}")
        if self.base_odds <= 0:
            raise ValueError(f"base odds must be positive, got {self.base_odds}")
        if self.min_score >= self.max_score:
            raise ValueError(f"min_score {self.min_score} must be below max_score {self.max_score}")

    @property
    def factor(self) -> float:
        """Points per unit of log-odds."""
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        """Score at odds 1:1."""
        return self.base_score - self.factor * math.log(self.base_odds)

    def score(self, pd_: np.ndarray | float) -> np.ndarray:
        """Scores ``[n]`` (floats, rounded to whole points, clipped) for PDs ``[n]``."""
        p = np.clip(np.asarray(pd_, dtype=np.float64), PD_FLOOR, PD_CEILING)
        raw = self.offset + self.factor * np.log((1.0 - p) / p)
        return np.round(np.clip(raw, self.min_score, self.max_score))

    def pd_at(self, score: np.ndarray | float) -> np.ndarray:
        """Inverse of :meth:`score` (before rounding): the PD a score stands for."""
        log_odds = (np.asarray(score, dtype=np.float64) - self.offset) / self.factor
        return 1.0 / (1.0 + np.exp(log_odds))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, object]) -> ScoreScale:
        return cls(**payload)  # type: ignore[arg-type]


#: Presets: the default 350-950, a 300-850 scale, and a compact 0-300. Higher is always safer.
PRESETS: dict[str, ScoreScale] = {
    "default": ScoreScale(),
    "300-850": ScoreScale(
        base_score=600.0,
        base_odds=30.0,
        pdo=40.0,
        min_score=300.0,
        max_score=850.0,
        name="300-850",
    ),
    "0-300": ScoreScale(
        base_score=150.0, base_odds=20.0, pdo=20.0, min_score=0.0, max_score=300.0, name="0-300"
    ),
}

#: Upper PD bound of each grade, best first; the last grade takes everything above.
DEFAULT_PD_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 0.005),
    ("B", 0.01),
    ("C", 0.02),
    ("D", 0.05),
    ("E", 0.10),
    ("F", 0.20),
    ("G", 1.0),
)


def preset(name: str) -> ScoreScale:
    """A preset scale by name (``default``, ``300-850``, ``0-300``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown score scale {name!r}: use one of {sorted(PRESETS)}") from None


@dataclass(frozen=True)
class Grades:
    """Risk grades as score bands. ``cutoffs`` = ``[(grade, lowest score in it), ...]`` best
    first with strictly decreasing bounds; a score below the last bound gets ``floor_grade``."""

    cutoffs: tuple[tuple[str, float], ...]
    floor_grade: str = "G"
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        bounds = [b for _, b in self.cutoffs]
        if any(b2 >= b1 for b1, b2 in pairwise(bounds)):
            raise ValueError(f"grade cut-offs must decrease from best to worst grade: {bounds}")
        object.__setattr__(self, "names", (*[g for g, _ in self.cutoffs], self.floor_grade))

    def grade(self, score: np.ndarray | float) -> np.ndarray:
        """Grade letter per score, ``[n]`` object array."""
        s = np.atleast_1d(np.asarray(score, dtype=np.float64))
        bounds = np.asarray([b for _, b in self.cutoffs], dtype=np.float64)
        # Number of bounds strictly above the score = index of its grade.
        position = (s[:, None] < bounds[None, :]).sum(axis=1)
        return np.asarray(self.names, dtype=object)[position]

    def to_dict(self) -> dict[str, object]:
        return {"cutoffs": [list(c) for c in self.cutoffs], "floor_grade": self.floor_grade}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Grades:
        cutoffs = tuple((str(g), float(b)) for g, b in payload["cutoffs"])
        return cls(cutoffs=cutoffs, floor_grade=str(payload["floor_grade"]))


def grades_from_pd_bands(
    scale: ScoreScale, bands: tuple[tuple[str, float], ...] = DEFAULT_PD_BANDS
) -> Grades:
    """Grades whose score cut-offs sit where ``scale`` puts each PD band's upper bound, so the
    same PD bands give the same grades whatever the scale."""
    *upper, (floor_grade, _) = bands
    cutoffs = tuple((g, float(scale.score(p)[()])) for g, p in upper)
    return Grades(cutoffs=cutoffs, floor_grade=floor_grade)
