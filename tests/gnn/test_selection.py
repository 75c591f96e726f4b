"""The one fit-and-select routine: grouped folds, out-of-fold evidence, one champion."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_market

from gnn.baselines import TreeConfig
from gnn.data import FeatureScaler, build_graph
from gnn.evaluate import FeatureSet
from gnn.model import SAGEConfig
from gnn.selection import (
    ModelConfig,
    SelectionConfig,
    _logit,
    fit_and_select,
    grouped_folds,
    training_table,
)
from gnn.train import TrainConfig

MODELS = ModelConfig(
    sage=SAGEConfig(hidden=16),
    train=TrainConfig(max_epochs=15, patience=5),
    trees=TreeConfig(n_estimators=40, early_stopping_rounds=10),
)


def _table(feature_set: FeatureSet, seed: int = 8):
    market = tiny_market(n=300, seed=seed)
    features = feature_set.frame(market, market.as_of)
    scaler = FeatureScaler(list(features)).fit(features)
    graph = build_graph(market, features, scaler, market.as_of, "defaulted")
    return training_table(
        graph, features, own=feature_set.own, counterparty=feature_set.counterparty, scaler=scaler
    )


def test_folds_never_split_one_business_across_fit_and_held_out() -> None:
    rng = np.random.default_rng(0)
    # Stacked cohorts: 120 businesses, each labelled at 3 score dates.
    groups = np.repeat(np.arange(120), 3)
    y = np.repeat((rng.random(120) < 0.3).astype(int), 3)
    folds = grouped_folds(y, groups, 5, seed=1)
    assert len(folds) == 5
    held_all = np.concatenate([held for _, held in folds])
    assert sorted(held_all) == list(range(len(y)))  # every row held out exactly once
    for fit, held in folds:
        assert not set(groups[fit]) & set(groups[held])
        assert 0 < y[held].sum() < len(held)  # stratified: both classes in each fold


def test_every_row_is_scored_by_models_that_never_saw_its_label(feature_set) -> None:
    table = _table(feature_set)
    selection = fit_and_select(table, config=SelectionConfig(folds=3), models=MODELS)
    assert set(selection.oof) == {"trees_own", "trees_own_cp", "graphsage", "hybrid"}
    assert all(np.isfinite(p).all() for p in selection.oof.values())
    assert len(selection.sage) == 3
    members = [_logit(m.predict_proba(table.graph)) for m in selection.sage]
    stacked = selection.stacked_logit[table.rows]
    for position, row in enumerate(table.rows):
        fold = selection.fold_of[position]
        # The stacked logit is the one member whose fold held the row out, and only that one.
        matches = [abs(stacked[position] - m[row]) < 1e-9 for m in members]
        assert matches[fold] and sum(matches) == 1
    graphsage_oof = 1 / (1 + np.exp(-stacked))
    assert np.allclose(selection.oof["graphsage"], graphsage_oof)


def test_champion_is_the_best_mean_held_out_auc(feature_set) -> None:
    table = _table(feature_set, seed=9)
    selection = fit_and_select(table, config=SelectionConfig(folds=3), models=MODELS)
    cv = selection.cv_auc
    assert selection.champion == max(cv, key=cv.get)
    forced = fit_and_select(
        table, config=SelectionConfig(folds=3, champion="trees_own"), models=MODELS
    )
    assert forced.champion == "trees_own"
    # Calibration is fitted on the champion's out-of-fold predictions: all labelled rows.
    assert forced.calibrator.fitted_on == len(table.rows)


def test_cross_calibrated_predictions_are_not_fitted_on_their_own_rows(feature_set) -> None:
    table = _table(feature_set, seed=10)
    config = SelectionConfig(folds=3, models=("trees_own", "trees_own_cp"), calibration="platt")
    selection = fit_and_select(table, config=config, models=MODELS)
    crossed = selection.cross_calibrated_oof()
    in_sample = selection.calibrator(selection.oof[selection.champion])
    assert crossed.shape == in_sample.shape and not np.allclose(crossed, in_sample)
    assert ((crossed > 0) & (crossed < 1)).all()


def test_config_refuses_a_hybrid_without_graphsage() -> None:
    with pytest.raises(ValueError, match="graphsage"):
        SelectionConfig(models=("trees_own", "hybrid"))
    with pytest.raises(ValueError, match="folds"):
        SelectionConfig(folds=1)
