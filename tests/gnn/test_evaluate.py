"""Metrics, the feature scaler and the one-run evaluation on small hand-built markets."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_market
from sklearn.metrics import roc_auc_score

from gnn.baselines import TreeConfig
from gnn.data import FeatureScaler, SnapshotFrames, build_graph
from gnn.evaluate import (
    MODELS,
    FeatureSet,
    Fold,
    _logit,
    cross_fitted_sage,
    evaluate,
    format_table,
)
from gnn.metrics import all_metrics, ks_statistic, recall_in_top
from gnn.model import SAGEConfig
from gnn.train import TrainConfig

FAST = TrainConfig(max_epochs=15, patience=5)
SMALL = SAGEConfig(hidden=16)
TREES = TreeConfig(n_estimators=40, early_stopping_rounds=10)


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


def test_scaler_is_fitted_on_training_rows_only() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0]})
    scaler = FeatureScaler(["a"]).fit(train)
    fitted = scaler.transform(train)
    assert fitted.mean() == pytest.approx(0.0, abs=1e-6)
    shifted = scaler.transform(pd.DataFrame({"a": [1000.0]}))
    assert shifted[0, 0] > 3  # a new extreme is not re-centred
    restored = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.allclose(restored.transform(train), fitted)


def test_temporal_evaluation_reports_every_model_and_slice(feature_set: FeatureSet) -> None:
    first = tiny_market(n=300, seed=3, as_of="2023-06-01")
    second = tiny_market(n=300, seed=4, as_of="2024-01-01")
    result = evaluate(
        first,
        second,
        "defaulted",
        "temporal",
        seeds=2,
        feature_set=feature_set,
        sage_config=SMALL,
        train_config=FAST,
        tree_config=TREES,
    )
    table = result.table
    assert set(table["model"]) == set(MODELS)
    assert set(table["slice"]) == {"all", "thin"}
    assert result.champion in MODELS
    assert result.warnings  # 2024-01-01 is under a year after 2023-06-01
    assert result.counts["test_rows"] == 300
    payload = json.loads(result.to_json())
    assert payload["champion"] == result.champion and len(payload["runs"]) == 2 * 4 * 2
    assert "(c) GraphSAGE" in format_table(result)
    # The first seed's test predictions travel with the result, for the report's curves.
    predictions = pd.DataFrame(payload["predictions"])
    assert predictions.groupby("model").size().to_dict() == {m: 300 for m in MODELS}
    assert predictions["pd"].between(0, 1).all() and set(predictions["y_true"]) <= {0, 1}
    first_auc = result.runs.query("model == 'trees_own' and slice == 'all' and seed == 0")["auc"]
    own = predictions[predictions["model"] == "trees_own"]
    assert all_metrics(own["y_true"].to_numpy(), own["pd"].to_numpy())["auc"] == pytest.approx(
        float(first_auc.iloc[0])
    )


def test_champion_is_chosen_on_validation_not_test(feature_set: FeatureSet) -> None:
    market = tiny_market(n=300, seed=5)
    result = evaluate(
        market,
        None,
        "defaulted",
        "cv",
        seeds=2,
        feature_set=feature_set,
        sage_config=SMALL,
        train_config=FAST,
        tree_config=TREES,
    )
    best_validation = max(result.validation_auc, key=result.validation_auc.get)
    assert result.champion == best_validation


def test_given_split_uses_the_split_column(feature_set: FeatureSet) -> None:
    market = tiny_market(n=300, seed=6)
    outcomes = market.outcomes.assign(split=np.where(np.arange(300) < 200, "train", "test"))
    frames = SnapshotFrames(
        market.businesses, market.identifiers, market.orders, outcomes, market.as_of
    )
    result = evaluate(
        frames,
        None,
        "defaulted",
        "given",
        seeds=2,
        feature_set=feature_set,
        sage_config=SMALL,
        train_config=FAST,
        tree_config=TREES,
    )
    assert result.counts["test_rows"] == 100
    assert result.counts["train_rows"] + result.counts["val_rows"] == 200
    with pytest.raises(KeyError, match="split"):
        evaluate(market, None, "defaulted", "given", seeds=1, feature_set=feature_set)


def test_dropped_features_reach_no_model(feature_set: FeatureSet) -> None:
    market = tiny_market(n=300, seed=7)
    result = evaluate(
        market,
        None,
        "defaulted",
        "cv",
        seeds=2,
        feature_set=feature_set,
        drop_features=("own_noisy_risk",),
        sage_config=SMALL,
        train_config=FAST,
        tree_config=TREES,
    )
    assert result.configs["dropped_features"] == ["own_noisy_risk"]


def test_cross_fitted_logits_come_from_the_member_that_did_not_see_the_row(
    feature_set: FeatureSet,
) -> None:
    market = tiny_market(n=300, seed=8)
    features = feature_set.frame(market, market.as_of)
    scaler = FeatureScaler(feature_set.own + feature_set.counterparty).fit(features)
    graph = build_graph(market, features, scaler, market.as_of, "defaulted")
    rows = graph.labelled
    fold = Fold(train=rows[:200], val=rows[200:260], test=rows[260:])
    bag = cross_fitted_sage(graph, None, fold, scaler, 3, 0, SMALL, FAST)
    assert len(bag.models) == 3
    members = [_logit(m.predict_proba(graph)) for m in bag.models]
    assert np.allclose(bag.train_logit, np.mean(members, axis=0), atol=1e-5)
    assert np.allclose(bag.stacked_logit[fold.val], bag.train_logit[fold.val])
    for row in fold.train[:20]:  # exactly one member held each training row out
        matches = [abs(bag.stacked_logit[row] - logit[row]) < 1e-6 for logit in members]
        assert sum(matches) >= 1
    assert not np.allclose(bag.stacked_logit[fold.train], bag.train_logit[fold.train])
    with pytest.raises(ValueError, match="gnn_bags"):
        evaluate(market, None, "defaulted", "cv", seeds=1, feature_set=feature_set, gnn_bags=1)
