"""TreeSHAP by distinct decision patterns equals LightGBM's own ``pred_contrib`` for every way
LightGBM treats missing values, and asks it about fewer rows."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from gnn.treeshap import tree_contributions, tree_splits


def _data(n: int = 3_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coarse features (many rows share values), with NaNs and exact zeros."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.integers(0, 6, n).astype(float),  # few distinct values
            np.round(rng.normal(size=n), 1),
            rng.exponential(size=n),  # all distinct
            rng.integers(0, 3, n).astype(float),
        ]
    )
    x[rng.random(n) < 0.1, 1] = np.nan
    x[rng.random(n) < 0.1, 2] = 0.0
    logit = x[:, 0] - 2 * np.nan_to_num(x[:, 1]) + np.sin(x[:, 2]) + x[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def _booster(x: np.ndarray, y: np.ndarray, **params: Any) -> lgb.Booster:
    base = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 0}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=25)


def _at_thresholds(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    """Rows whose values sit exactly on the trees' thresholds (either side of ``<=``), and on
    either side of the range LightGBM reads as zero."""
    splits = tree_splits(booster)
    assert splits is not None
    rows: list[np.ndarray] = []
    zero = float(np.float32(1e-35))
    for feature in range(x.shape[1]):
        for value in (0.0, -0.0, zero, -zero, np.nextafter(zero, 1), -np.nextafter(zero, 1)):
            row = x[len(rows)].copy()
            row[feature] = value
            rows.append(row)
    for tree in splits:
        for feature, thresholds in zip(tree.features, tree.thresholds, strict=True):
            for t in thresholds:
                for value in (t, np.nextafter(t, np.inf)):
                    row = x[len(rows) % len(x)].copy()
                    row[feature] = value
                    rows.append(row)
    return np.vstack([x, *rows])


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"use_missing": False}],
    ids=["nan-missing", "zero-as-missing", "no-missing"],
)
def test_contributions_equal_lightgbm_pred_contrib(params: dict[str, Any]) -> None:
    x, y = _data()
    booster = _booster(x, y, **params)
    matrix = _at_thresholds(booster, x)
    expected = np.asarray(booster.predict(matrix, pred_contrib=True))
    got = tree_contributions(booster, matrix)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


class _Counting:
    """A booster that records how many rows each ``predict`` call was asked about."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self.rows: list[int] = []

    def dump_model(self) -> dict[str, Any]:
        return self.booster.dump_model()

    def predict(self, matrix: np.ndarray, **kwargs: Any) -> np.ndarray:
        self.rows.append(len(matrix))
        return np.asarray(self.booster.predict(matrix, **kwargs))


def test_lightgbm_is_asked_once_per_distinct_pattern_of_each_tree() -> None:
    x, y = _data()
    booster = _Counting(_booster(x, y))
    tree_contributions(booster, x)
    trees = booster.booster.num_trees()
    assert len(booster.rows) == trees
    assert max(booster.rows) <= len(x)
    assert sum(booster.rows) < 0.5 * trees * len(x)  # coarse features: far fewer patterns


def test_small_inputs_take_one_plain_call() -> None:
    x, y = _data()
    booster = _Counting(_booster(x, y))
    got = tree_contributions(booster, x[:100])
    assert booster.rows == [100]
    np.testing.assert_array_equal(got, booster.booster.predict(x[:100], pred_contrib=True))


def test_categorical_splits_take_the_plain_call() -> None:
    x, y = _data()
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "min_data_per_group": 5},
        lgb.Dataset(x, y, categorical_feature=[0]),
        num_boost_round=10,
    )
    assert tree_splits(booster) is None
    counting = _Counting(booster)
    got = tree_contributions(counting, x)
    assert counting.rows == [len(x)]
    np.testing.assert_allclose(got, booster.predict(x, pred_contrib=True), rtol=0, atol=1e-12)
