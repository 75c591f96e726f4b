"""Population stability index (PSI): how far a test cohort has drifted from the training one.

``PSI = Σ (a_i - e_i) · ln(a_i / e_i)`` over bins, where ``e_i`` is the training (expected)
share and ``a_i`` the test (actual) share of bin ``i``. Bins are the training cohort's deciles
(fewer when the values have fewer distinct points); missing values get a bin of their own, so a
feature that starts going missing shows up as drift. Empty bins are floored at ``1e-4`` so the
logarithm stays finite. The usual reading, used for the flags: below 0.1 stable, 0.1-0.25 a
moderate shift worth a look, 0.25 and above a major shift (refit or investigate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: PSI at or above this is a moderate shift.
MODERATE = 0.1
#: PSI at or above this is a major shift.
MAJOR = 0.25
#: Share floor for empty bins, so ln(a/e) stays finite.
FLOOR = 1e-4


def psi_flag(value: float) -> str:
    """``"stable"``, ``"moderate"`` (≥ 0.1) or ``"major"`` (≥ 0.25); ``"n/a"`` for NaN."""
    if value is None or math.isnan(value):
        return "n/a"
    if value >= MAJOR:
        return "major"
    if value >= MODERATE:
        return "moderate"
    return "stable"


def bin_edges(expected: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner cut points: unique quantiles of the finite ``expected`` values (may be empty when
    the values are constant). Bin ``i`` holds ``edges[i-1] < x <= edges[i]``."""
    finite = expected[np.isfinite(expected)]
    if finite.size == 0:
        return np.array([], dtype=float)
    quantiles = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(quantiles)


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each of ``len(edges) + 1`` bins plus a last bin for missing."""
    finite = np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(edges, values[finite], side="left"), minlength=len(edges) + 1
    ).astype(float)
    counts = np.append(counts, float((~finite).sum()))
    total = counts.sum()
    return counts / total if total else counts


def psi(expected: Iterable[float], actual: Iterable[float], bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` (1-D numbers; NaN = missing). NaN when either
    side is empty."""
    e = np.asarray(pd.to_numeric(pd.Series(list(expected)), errors="coerce"), dtype=float)
    a = np.asarray(pd.to_numeric(pd.Series(list(actual)), errors="coerce"), dtype=float)
    if e.size == 0 or a.size == 0:
        return math.nan
    edges = bin_edges(e, bins)
    e_share = np.maximum(_shares(e, edges), FLOOR)
    a_share = np.maximum(_shares(a, edges), FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi_table(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    columns: list[str] | None = None,
    bins: int = 10,
) -> pd.DataFrame:
    """PSI per column shared by both frames (or ``columns``), highest first.

    Returns columns ``feature, psi, flag`` (flag from :func:`psi_flag`), one row per feature.
    """
    names = columns or [c for c in expected.columns if c in actual.columns]
    missing = [c for c in names if c not in expected.columns or c not in actual.columns]
    if missing:
        raise KeyError(f"PSI needs these columns in both cohorts: {missing}")
    rows = []
    for name in names:
        value = psi(expected[name].to_numpy(), actual[name].to_numpy(), bins)
        rows.append({"feature": name, "psi": value, "flag": psi_flag(value)})
    table = pd.DataFrame(rows, columns=["feature", "psi", "flag"])
    return table.sort_values("psi", ascending=False, na_position="last", ignore_index=True)
