"""The evaluation run: every model and slice, bootstrap intervals, one champion chosen
without the test rows, label maturity, and hidden features that really stay hidden."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_market

from gnn.baselines import TreeConfig
from gnn.data import FeatureScaler, SnapshotFrames
from gnn.errors import ImmatureLabelsError
from gnn.evaluate import MODELS, EvaluationConfig, FeatureSet, evaluate, format_table
from gnn.metrics import all_metrics
from gnn.model import SAGEConfig
from gnn.selection import ModelConfig, SelectionConfig
from gnn.train import TrainConfig

FAST = EvaluationConfig(
    seeds=2,
    replicates=200,
    selection=SelectionConfig(folds=3),
    models=ModelConfig(
        sage=SAGEConfig(hidden=16),
        train=TrainConfig(max_epochs=15, patience=5),
        trees=TreeConfig(n_estimators=40, early_stopping_rounds=10),
    ),
)


def test_scaler_is_fitted_on_training_rows_only() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0]})
    scaler = FeatureScaler(["a"]).fit(train)
    fitted = scaler.transform(train)
    assert fitted.mean() == pytest.approx(0.0, abs=1e-6)
    shifted = scaler.transform(pd.DataFrame({"a": [1000.0]}))
    assert shifted[0, 0] > 3  # a new extreme is not re-centred
    restored = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.allclose(restored.transform(train), fitted)


def test_temporal_evaluation_reports_every_model_slice_and_interval(feature_set) -> None:
    first = tiny_market(n=300, seed=3, as_of="2023-01-01")
    second = tiny_market(n=300, seed=4, as_of="2024-01-01")
    result = evaluate(first, second, FAST, feature_set=feature_set)
    table = result.table
    assert set(table["model"]) == set(MODELS)
    assert set(table["slice"]) == {"all", "thin"}
    assert result.champion in MODELS
    assert result.counts["test_rows"] == 300
    for model in MODELS:
        auc = result.interval(model, "auc")
        assert auc is not None and auc.low <= result.metric(model)[0] <= auc.high
    lead = result.interval("graphsage", "auc_minus_trees_own_cp")
    assert lead is not None and lead.low <= lead.estimate <= lead.high
    payload = json.loads(result.to_json())
    assert payload["champion"] == result.champion and len(payload["runs"]) == 2 * 4 * 2
    assert "auc_minus_trees_own_cp" in payload["intervals"]["all"]["hybrid"]
    assert "(c) GraphSAGE" in format_table(result) and "[" in format_table(result)
    predictions = pd.DataFrame(payload["predictions"])
    assert predictions.groupby("model").size().to_dict() == {m: 300 for m in MODELS}
    first_auc = result.runs.query("model == 'trees_own' and slice == 'all' and seed == 0")["auc"]
    own = predictions[predictions["model"] == "trees_own"]
    assert all_metrics(own["y_true"].to_numpy(), own["pd"].to_numpy())["auc"] == pytest.approx(
        float(first_auc.iloc[0])
    )


def test_an_immature_training_cohort_is_refused_unless_allowed(feature_set) -> None:
    first = tiny_market(n=300, seed=3, as_of="2023-06-01")
    second = tiny_market(n=300, seed=4, as_of="2024-01-01")
    with pytest.raises(ImmatureLabelsError, match="--allow-immature"):
        evaluate(first, second, FAST, feature_set=feature_set)
    allowed = replace(FAST, seeds=1, allow_immature=True)
    result = evaluate(first, second, allowed, feature_set=feature_set)
    assert any("optimistic" in w for w in result.warnings)


def test_the_champion_never_depends_on_test_labels(feature_set) -> None:
    first = tiny_market(n=300, seed=5, as_of="2023-01-01")
    second = tiny_market(n=300, seed=6, as_of="2024-01-01")
    config = replace(FAST, seeds=1)
    honest = evaluate(first, second, config, feature_set=feature_set)
    flipped_outcomes = second.outcomes.assign(
        defaulted=(1 - second.outcomes["defaulted"]).astype("Int8")
    )
    flipped = SnapshotFrames(
        second.businesses, second.identifiers, second.orders, flipped_outcomes, second.as_of
    )
    tampered = evaluate(first, flipped, config, feature_set=feature_set)
    # Test AUCs change completely; the choice and its evidence do not move at all.
    assert tampered.metric("trees_own")[0] == pytest.approx(1 - honest.metric("trees_own")[0])
    assert tampered.champion == honest.champion and tampered.cv_auc == honest.cv_auc


def test_given_split_uses_the_split_column(feature_set) -> None:
    market = tiny_market(n=300, seed=6)
    outcomes = market.outcomes.assign(split=np.where(np.arange(300) < 200, "train", "test"))
    frames = SnapshotFrames(
        market.businesses, market.identifiers, market.orders, outcomes, market.as_of
    )
    result = evaluate(frames, None, replace(FAST, split="given"), feature_set=feature_set)
    assert result.counts["test_rows"] == 100 and result.counts["train_rows"] == 200
    with pytest.raises(KeyError, match="split"):
        evaluate(market, None, replace(FAST, split="given", seeds=1), feature_set=feature_set)


def test_cv_split_tests_each_labelled_row_once(feature_set) -> None:
    market = tiny_market(n=300, seed=7)
    result = evaluate(market, None, replace(FAST, split="cv", seeds=3), feature_set=feature_set)
    assert result.seeds == 3
    assert result.interval("trees_own", "auc") is not None


def test_dropped_features_reach_no_model(feature_set: FeatureSet) -> None:
    calls: list[list[str]] = []

    def recording(*args, **kwargs) -> pd.DataFrame:
        out = feature_set.compute(*args, **kwargs)
        calls.append(list(out.columns))
        return out

    spy = FeatureSet(recording, feature_set.own, feature_set.counterparty)
    market = tiny_market(n=300, seed=7)
    config = replace(FAST, split="cv", seeds=2, drop_features=("own_noisy_risk",))
    result = evaluate(market, None, config, feature_set=spy)
    assert calls and all("own_noisy_risk" in c for c in calls)  # computed, then hidden
    selection, table = result.selection, result.table_rows
    assert selection is not None and table is not None
    assert "own_noisy_risk" not in table.columns["all"]
    assert "own_noisy_risk" not in table.scaler.columns
    assert table.graph.data.x.shape[1] == len(table.scaler.columns)
    for trees in selection.trees.values():
        n_inputs = trees.booster.n_features_in_
        assert n_inputs == len(trees.columns) and "own_noisy_risk" not in trees.columns
    # Hiding the one informative own feature really changes what the own-only trees see.
    kept = evaluate(market, None, replace(config, drop_features=()), feature_set=spy)
    assert kept.table_rows is not None and "own_noisy_risk" in kept.table_rows.columns["own"]


def test_stacked_cohorts_train_on_every_date_grouped_by_business(feature_set) -> None:
    first = tiny_market(n=300, seed=3, as_of="2023-01-01")
    earlier = first.outcomes.assign(as_of=pd.Timestamp("2022-10-01", tz="UTC"))
    stacked_frames = SnapshotFrames(
        first.businesses,
        first.identifiers,
        first.orders,
        pd.concat([earlier, first.outcomes], ignore_index=True),
        first.as_of,
    )
    second = tiny_market(n=300, seed=4, as_of="2024-01-01")
    config = replace(
        FAST,
        seeds=1,
        train_as_of=first.as_of,
        test_as_of=second.as_of,
        train_dates=(pd.Timestamp("2022-10-01", tz="UTC"),),
    )
    result = evaluate(stacked_frames, second, config, feature_set=feature_set)
    table = result.table_rows
    assert table is not None
    # Businesses registered before 2022-10-01 appear once per date, under one group.
    assert result.counts["train_rows"] > result.counts["train_businesses"]
    assert len(np.unique(table.groups)) == result.counts["train_businesses"]
    assert result.configs["train_dates"] == ["2022-10-01"]
