"""Paired bootstrap: exact weighted rank metrics and intervals that pair models on one draw."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from gnn.bootstrap import (
    paired_bootstrap,
    replicate_weights,
    weighted_auc,
    weighted_average_precision,
)


def _market(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    score = np.round(rng.random(n) + 0.5 * y, 2)  # rounded: many ties
    return y, score


def test_weighted_metrics_equal_scikit_learn_with_sample_weights() -> None:
    y, score = _market()
    weights = replicate_weights(len(y), replicates=4, seed=1)
    for row, auc, ap in zip(
        weights,
        weighted_auc(y, score, weights),
        weighted_average_precision(y, score, weights),
        strict=True,
    ):
        assert auc == pytest.approx(roc_auc_score(y, score, sample_weight=row))
        assert ap == pytest.approx(average_precision_score(y, score, sample_weight=row))


def test_interval_covers_the_estimate_and_narrows_with_more_rows() -> None:
    small_y, small_s = _market(300, seed=2)
    large_y, large_s = _market(3000, seed=2)
    small = paired_bootstrap(small_y, {"m": [small_s]}, replicates=300)["m"]["auc"]
    large = paired_bootstrap(large_y, {"m": [large_s]}, replicates=300)["m"]["auc"]
    assert small.low <= small.estimate <= small.high
    assert (large.high - large.low) < (small.high - small.low)


def test_paired_difference_is_narrower_than_either_interval() -> None:
    y, score = _market(1500, seed=3)
    rng = np.random.default_rng(5)
    better = score + 0.05 * y + 0.01 * rng.random(len(y))
    out = paired_bootstrap(y, {"ref": [score], "new": [better]}, reference="ref", replicates=400)
    diff = out["new"]["auc_minus_ref"]
    assert diff.estimate == pytest.approx(out["new"]["auc"].estimate - out["ref"]["auc"].estimate)
    assert diff.excludes_zero()
    width = diff.high - diff.low
    assert width < out["new"]["auc"].high - out["new"]["auc"].low
    assert "auc_minus_ref" not in out["ref"]


def test_seed_runs_are_averaged_on_the_same_draw() -> None:
    y, score = _market(600, seed=4)
    noisy = score + np.random.default_rng(6).normal(scale=0.3, size=len(y))
    out = paired_bootstrap(y, {"m": [score, noisy]}, replicates=200)["m"]["auc"]
    expected = (roc_auc_score(y, score) + roc_auc_score(y, noisy)) / 2
    assert out.estimate == pytest.approx(expected)
