"""Paired bootstrap over test businesses: how far a test AUC or AUPRC would move on another
draw of businesses, and whether one model's lead over another survives it.

With ~250 defaults in a test cohort an AUC moves by about ±0.015 between draws, more than the
spread over training seeds; a comparison that quotes only the latter overstates what it knows.
Every replicate draws one multiset of test rows (multinomial counts ``w [B, n]``) and scores
*every* model on it, so the difference between two models is measured on the same businesses
(paired) and its interval is much narrower than the two separate intervals suggest.

The weighted metrics are exact rank statistics evaluated for all ``B`` replicates at once:
AUC as the Mann–Whitney probability with ties counted one half, average precision as
scikit-learn defines it (precision summed over distinct thresholds, weighted by recall gained).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Replicates per interval: enough for stable 2.5/97.5 percentiles (Efron & Tibshirani).
DEFAULT_REPLICATES = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile interval (``level`` = 0.95 by default)."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}

    def excludes_zero(self) -> bool:
        """True when the whole interval is above zero (a lead that survives resampling)."""
        return self.low > 0.0


def replicate_weights(n: int, replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> np.ndarray:
    """``[replicates, n]`` counts: how often each of ``n`` rows is drawn in each replicate."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)


def _group_sums(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted positives and negatives per distinct score, ``[B, groups]`` each, in score
    order (ascending, or descending with ``descending``)."""
    key = -score if descending else score
    _, group = np.unique(key, return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    rows = np.arange(len(y))
    pos = sp.csr_matrix((y.astype(np.float64), (rows, group)), shape=(len(y), n_groups))
    neg = sp.csr_matrix(((1.0 - y).astype(np.float64), (rows, group)), shape=(len(y), n_groups))
    return np.asarray((pos.T @ weights.T).T), np.asarray((neg.T @ weights.T).T)


def weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for every row of ``weights [B, n]``: ``[B]`` (NaN where a
    replicate holds one class only)."""
    pos, neg = _group_sums(np.asarray(y, dtype=np.float64), np.asarray(score), weights, False)
    below = np.cumsum(neg, axis=1) - neg  # negatives strictly below each group
    numerator = np.sum(pos * (below + 0.5 * neg), axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def weighted_average_precision(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (AUPRC) for every row of ``weights [B, n]``: ``[B]``."""
    pos, neg = _group_sums(np.asarray(y, dtype=np.float64), np.asarray(score), weights, True)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    total = pos.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        out = np.sum(pos * precision, axis=1) / total[:, 0]
    return np.where(total[:, 0] > 0, out, np.nan)


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
METRICS: dict[str, Metric] = {"auc": weighted_auc, "auprc": weighted_average_precision}


def _interval(point: float, draws: np.ndarray, level: float) -> Interval:
    tail = (1.0 - level) / 2.0 * 100.0
    finite = draws[np.isfinite(draws)]
    if not len(finite):
        return Interval(point, np.nan, np.nan)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return Interval(float(point), float(low), float(high))


def _seed_mean(
    metric: Metric, y: np.ndarray, runs: Sequence[np.ndarray], weights: np.ndarray
) -> np.ndarray:
    return np.mean([metric(y, run, weights) for run in runs], axis=0)


def paired_bootstrap(
    y_true: np.ndarray,
    predictions: Mapping[str, Sequence[np.ndarray]],
    *,
    reference: str | None = None,
    replicates: int = DEFAULT_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Interval]]:
    """Intervals of the seed-mean AUC and AUPRC of every model, on shared replicates.

    ``predictions[model]`` holds one score vector ``[n]`` per training seed, all on the same
    ``n`` test rows; a replicate scores each seed's vector on the same drawn rows and averages
    over seeds. With ``reference`` each other model also gets ``<metric>_minus_<reference>``:
    the paired difference, which is what decides whether it beats the reference.
    """
    y = np.asarray(y_true).astype(np.float64)
    weights = replicate_weights(len(y), replicates, seed)
    unit = np.ones((1, len(y)))
    draws: dict[str, dict[str, np.ndarray]] = {}
    points: dict[str, dict[str, float]] = {}
    for model, runs in predictions.items():
        draws[model] = {name: _seed_mean(f, y, runs, weights) for name, f in METRICS.items()}
        points[model] = {n: float(_seed_mean(f, y, runs, unit)[0]) for n, f in METRICS.items()}
    out: dict[str, dict[str, Interval]] = {}
    for model in predictions:
        out[model] = {
            name: _interval(points[model][name], draws[model][name], level) for name in METRICS
        }
        if reference is not None and reference in predictions and model != reference:
            for name in METRICS:
                diff = draws[model][name] - draws[reference][name]
                point = points[model][name] - points[reference][name]
                out[model][f"{name}_minus_{reference}"] = _interval(point, diff, level)
    return out
