"""Ranking metrics read at thresholds between distinct scores: row order never decides them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gnn.metrics import all_metrics, ks_statistic, recall_in_top


def test_metrics_on_a_perfect_and_a_useless_ranking() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    perfect = np.linspace(0, 1, 10)
    assert all_metrics(y, perfect)["auc"] == 1.0
    assert ks_statistic(y, perfect) == 1.0
    assert recall_in_top(y, perfect, 0.1) == 0.5  # one of two positives in the top 1 row
    assert recall_in_top(y, perfect, 0.2) == 1.0
    reversed_ = all_metrics(y, perfect[::-1])
    assert reversed_["auc"] == 0.0 and reversed_["gini"] == -1.0
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=10)
    assert all_metrics(y, scores)["auc"] == pytest.approx(roc_auc_score(y, scores))
    assert math.isnan(all_metrics(np.zeros(5), np.ones(5))["auc"])


def test_ks_of_all_equal_scores_is_zero_whatever_the_row_order() -> None:
    positives_first = np.array([1, 1, 0, 0, 0, 0])
    assert ks_statistic(positives_first, np.zeros(6)) == 0.0
    assert ks_statistic(positives_first[::-1], np.zeros(6)) == 0.0


def test_ks_with_partial_ties_reads_only_between_distinct_scores() -> None:
    y = np.array([1, 0, 1, 0, 0, 0])
    score = np.array([0.9, 0.9, 0.5, 0.5, 0.1, 0.1])
    # Thresholds: >=0.9 takes 1/2 positives, 1/4 negatives; >=0.5 takes 2/2 and 2/4.
    assert ks_statistic(y, score) == pytest.approx(0.5)
    order = np.array([1, 0, 3, 2, 5, 4])  # swap rows inside each tie
    assert ks_statistic(y[order], score[order]) == pytest.approx(0.5)


def test_recall_in_top_shares_a_tie_at_the_cut_pro_rata() -> None:
    y = np.array([1] + [0] * 9)
    tied = np.zeros(10)
    # One row of ten is the top 10%; all rows tie, so the positive is in it with odds 1/10.
    assert recall_in_top(y, tied, 0.1) == pytest.approx(0.1)
    assert recall_in_top(y[::-1], tied, 0.1) == pytest.approx(0.1)
    score = np.array([0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])
    y2 = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    # Top 2 rows come from a 3-way tie holding one of two positives: 2/3 of it, recall 1/3.
    assert recall_in_top(y2, score, 0.2) == pytest.approx(1 / 3)


def test_calibration_never_raises_ks_above_the_raw_scores() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(400) < 0.2).astype(int)
    raw = rng.random(400) + 0.4 * y
    staircase = np.round(raw * 3) / 3  # a monotone map with ties, like isotonic calibration
    assert ks_statistic(y, staircase) <= ks_statistic(y, raw) + 1e-12
