"""Training and scoring end to end on a tiny market: inductive scores, card, honest splits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from gnn.errors import ImmatureLabelsError
from gnn.scoring import SCORE_COLUMNS, TrainingDataError, score, train_models
from tests.gnn.scoring_fixtures import FEATURES, assert_scored_alike, fast, market, with_island


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    frames = market()
    folder = tmp_path_factory.mktemp("models")
    artefact = train_models(
        frames, frames.as_of, fast("graphsage"), feature_set=FEATURES, models_dir=folder,
    )  # fmt: skip
    return artefact, frames


def test_every_sme_gets_pd_score_grade_and_reasons(trained) -> None:
    artefact, frames = trained
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES)
    assert list(scores.columns) == SCORE_COLUMNS
    assert len(scores) == (frames.businesses["kind"] == "sme").sum()
    assert scores["pd"].between(0, 1, inclusive="neither").all()
    assert scores["score"].between(artefact.scale.min_score, artefact.scale.max_score).all()
    assert set(scores["grade"]) <= set(artefact.grades.names)
    assert (scores["pd"].diff().dropna() <= 0).all()  # riskiest first
    # Higher PD never gets a higher score (the scale is monotone).
    assert (scores["score"].diff().dropna() >= 0).all()
    assert (scores["model_version"] == artefact.model_version).all()


def test_a_business_added_after_training_is_scored_with_reasons(trained) -> None:
    artefact, frames = trained
    later = frames.as_of + pd.Timedelta(days=60)
    grown = with_island(frames, prefix="new")
    # The newcomers also trade with existing businesses, so they have neighbours' data.
    extra = grown.orders[grown.orders["seller_id"].str.startswith("new")].head(5).copy()
    extra["buyer_id"] = frames.businesses["business_id"].iloc[:5].to_numpy()
    extra["txn_id"] = extra["txn_id"] + "x"
    grown.orders = pd.concat([grown.orders, extra], ignore_index=True)
    grown.businesses.loc[grown.businesses["business_id"].str.startswith("new"),
                         "registered_at"] = frames.as_of + pd.Timedelta(days=10)  # fmt: skip
    grown.orders.loc[grown.orders["seller_id"].str.startswith("new"), "ts"] = later - pd.Timedelta(
        days=5
    )
    grown.orders["status_at"] = grown.orders["ts"]
    scores = score(artefact, grown, later, feature_set=FEATURES)
    newcomers = scores[scores["business_id"].str.startswith("new")]
    assert len(newcomers) == 12
    assert newcomers["pd"].notna().all()
    assert all(len(r) >= 1 for r in newcomers["reasons"])


def test_model_card_holds_the_required_sections(trained) -> None:
    artefact, _ = trained
    card = artefact.card_path.read_text()
    for heading in (
        "Data window and cohorts",
        "Champion and baselines",
        "Calibration",
        "Back-test by grade",
        "region",
        "industry",
        "Intended use",
        "Known limits",
    ):
        assert heading in card  # fmt: skip
    assert artefact.model_version in card and "(c) GraphSAGE" in card


def test_calibration_is_fitted_on_every_row_out_of_fold(trained) -> None:
    artefact, _ = trained
    cohort = artefact.metrics["cohort"]
    # Every labelled row has an out-of-fold prediction, and the calibration saw all of them.
    assert artefact.calibrator.fitted_on == cohort["labelled"]
    backtest = artefact.metrics["grade_backtest"]
    assert sum(r["n"] for r in backtest) == cohort["labelled"]
    assert cohort["folds"] == 3


def test_train_refuses_a_cohort_whose_labels_are_not_mature() -> None:
    frames = market()
    young = replace(fast(), labels_known_at=frames.as_of + pd.Timedelta(days=200))
    with pytest.raises(ImmatureLabelsError, match="--allow-immature"):
        train_models(frames, frames.as_of, young, feature_set=FEATURES)
    allowed = replace(young, allow_immature=True, selection=replace(young.selection, folds=2))
    artefact = train_models(frames, frames.as_of, allowed, feature_set=FEATURES)
    assert artefact.champion in artefact.metrics["cv_auc"]


def test_too_few_labels_is_refused(tmp_path: Path) -> None:
    frames = market()
    frames.outcomes = frames.outcomes.head(20)
    with pytest.raises(TrainingDataError, match="labelled"):
        train_models(frames, frames.as_of, fast(), feature_set=FEATURES)


@pytest.mark.parametrize("champion", ["graphsage", "hybrid", "trees_own_cp"])
def test_one_business_scored_from_prepared_scores_equals_its_row_in_the_full_run(
    champion: str,
) -> None:
    """The API prepares the population once per snapshot and explains one business per
    request: its PD, score, grade and reasons equal the batch run's, request after request."""
    from gnn.scoring import prepare_scores, score_prepared

    frames = market()
    artefact = train_models(frames, frames.as_of, fast(champion), feature_set=FEATURES)
    full = score(artefact, frames, frames.as_of, feature_set=FEATURES).set_index("business_id")
    prepared = prepare_scores(artefact, frames, frames.as_of, feature_set=FEATURES)
    for business in full.index[[0, 7, len(full) // 2, -1]]:
        alone = score_prepared(prepared, business_ids=[business]).set_index("business_id")
        assert list(alone.index) == [business]
        assert_scored_alike(alone.loc[business], full.loc[business])
    assert prepared.cache.trade is not None  # built once, kept for the next request
