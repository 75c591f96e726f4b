"""Ranking and probability metrics a credit-risk team reads: AUC, AUPRC, KS, Gini, Brier and
recall among the riskiest 10%. Each returns NaN when the labels hold one class only."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

METRIC_NAMES: tuple[str, ...] = ("auc", "auprc", "ks", "gini", "brier", "recall_top10")


def _tie_groups(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score, highest score first: ``(pos, neg, counts)``.

    Metrics read at thresholds *between* distinct scores, so tied rows are never split by
    their order in the input (sorting alone would let row order decide KS and recall).
    """
    values, inverse = np.unique(-np.asarray(score, dtype=np.float64), return_inverse=True)
    pos = np.bincount(inverse, weights=y.astype(np.float64), minlength=len(values))
    counts = np.bincount(inverse, minlength=len(values)).astype(np.float64)
    return pos, counts - pos, counts


def ks_statistic(y_true: np.ndarray, score: np.ndarray) -> float:
    """Largest gap between the score CDFs of positives and negatives (0..1), read only at
    thresholds between distinct scores: all-equal scores give 0 whatever the row order."""
    y = np.asarray(y_true).astype(bool)
    if y.all() or not y.any():
        return math.nan
    pos, neg, _ = _tie_groups(y, score)
    tpr = np.cumsum(pos) / pos.sum()
    fpr = np.cumsum(neg) / neg.sum()
    return float(np.max(np.abs(tpr - fpr)))


def recall_in_top(y_true: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float:
    """Share of all positives found among the ``fraction`` highest-scored rows.

    Rows tied with the cut-off score count pro rata (the expected recall when ties are broken
    at random), so the answer never depends on row order.
    """
    y = np.asarray(y_true).astype(bool)
    if not y.any():
        return math.nan
    k = max(1, math.ceil(fraction * len(y)))
    pos, _, counts = _tie_groups(y, score)
    rows_before = np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    taken = np.clip(k - rows_before, 0.0, counts)
    return float(np.sum(pos * taken / counts) / pos.sum())


def all_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """Every metric in :data:`METRIC_NAMES` for probabilities ``probability`` (0..1)."""
    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    if len(np.unique(y)) < 2:
        nan = math.nan
        return {
            "auc": nan,
            "auprc": nan,
            "ks": nan,
            "gini": nan,
            "brier": float(brier_score_loss(y, p)) if len(y) else nan,
            "recall_top10": recall_in_top(y, p),
        }
    auc = float(roc_auc_score(y, p))
    return {
        "auc": auc,
        "auprc": float(average_precision_score(y, p)),
        "ks": ks_statistic(y, p),
        "gini": 2.0 * auc - 1.0,
        "brier": float(brier_score_loss(y, p)),
        "recall_top10": recall_in_top(y, p),
    }
