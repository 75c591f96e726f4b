"""The generator's v2 history: credit events that agree with outcomes, monthly cohorts and
business versions, all without disturbing the tables a seed produced before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from loaders.columns import CREDIT_EVENT_COLUMNS, OUTCOME_COLUMNS
from loaders.labels import labels_from_credit_events, stack_outcomes
from loaders.synthetic import (
    SyntheticConfig,
    SyntheticMarketplace,
    generate_marketplace,
    to_contract_frames,
    write_export,
)

CONFIG = SyntheticConfig(n_businesses=1_500, seed=5, version_share=0.1)


@pytest.fixture(scope="module")
def market() -> SyntheticMarketplace:
    return generate_marketplace(CONFIG)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[OUTCOME_COLUMNS].copy()
    out["business_id"] = out["business_id"].astype("str")
    out["as_of"] = out["as_of"].astype("datetime64[us, UTC]")
    for column in ("defaulted", "fraud"):
        out[column] = out[column].astype("Int8")
    return out.sort_values(["as_of", "business_id"], ignore_index=True)


def test_labels_from_credit_events_equal_the_outcomes(market: SyntheticMarketplace) -> None:
    events = market.credit_events
    assert events is not None and list(events.columns) == CREDIT_EVENT_COLUMNS
    assert set(events["event"]) == {
        "credit_opened",
        "credit_closed",
        "defaulted",
        "fraud_confirmed",
    }
    dates = market.outcomes["as_of"].unique()
    derived = labels_from_credit_events(events, dates, horizon_days=CONFIG.horizon_days)
    credit_rows = market.outcomes[market.outcomes["defaulted"].notna()]
    pd.testing.assert_frame_equal(_sorted(derived), _sorted(credit_rows))
    assert derived["defaulted"].sum() > 50 and derived["fraud"].sum() > 0
    stacked = stack_outcomes(market.outcomes, events, dates)
    assert stacked.rejected.empty
    assert len(stacked.labels) == len(market.outcomes)


def test_fraud_is_confirmed_when_rings_bust_out(market: SyntheticMarketplace) -> None:
    truth = market.ground_truth.drop_duplicates("business_id").set_index("business_id")
    busted = truth[truth["fail_reason"].isin(["bust_out", "caught"])]
    events = market.credit_events
    assert events is not None
    confirmed = events[events["event"] == "fraud_confirmed"].set_index("business_id")["at"]
    assert set(confirmed.index) == set(busted.index)
    pd.testing.assert_series_equal(
        confirmed.sort_index(), busted["failed_at"].sort_index(), check_names=False,
        check_dtype=False,
    )  # fmt: skip


def test_monthly_cohorts_are_mature_month_starts(market: SyntheticMarketplace) -> None:
    dates = pd.DatetimeIndex(sorted(market.outcomes["as_of"].unique()))
    expected = pd.date_range("2023-01-01", "2025-01-01", freq="MS", tz="UTC")
    assert list(dates) == list(expected.union(pd.DatetimeIndex(market.as_of_dates)))
    data_end = pd.Timestamp(CONFIG.end, tz="UTC") + pd.Timedelta(days=1)
    assert (dates + pd.Timedelta(days=CONFIG.horizon_days) <= data_end).all()
    assert market.outcomes.groupby("as_of")["business_id"].apply(lambda s: s.is_unique).all()


def test_history_knobs_leave_the_other_tables_unchanged(market: SyntheticMarketplace) -> None:
    plain = generate_marketplace(
        replace(CONFIG, monthly_cohorts=False, credit_events=False, version_share=0.0)
    )
    for name in ("businesses", "transactions", "ground_truth", "fx_rates"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(market, name))
    same_dates = market.outcomes[market.outcomes["as_of"].isin(plain.outcomes["as_of"])]
    pd.testing.assert_frame_equal(plain.outcomes, same_dates.reset_index(drop=True))
    assert plain.credit_events is None and plain.business_versions is None
    again = generate_marketplace(CONFIG)
    pd.testing.assert_frame_equal(again.credit_events, market.credit_events)
    pd.testing.assert_frame_equal(again.business_versions, market.business_versions)


def test_versions_change_one_thing_later(market: SyntheticMarketplace) -> None:
    versions = market.business_versions
    assert versions is not None and len(versions) > 50
    first = market.businesses.set_index("business_id").loc[versions["business_id"]]
    assert (versions["updated_at"].to_numpy() > first["registered_at"].to_numpy()).all()
    columns = ["region", "industry", "employees", "phone", "device_id"]
    later = versions.set_index("business_id")[columns].astype(object)
    before = first[columns].astype(object)
    differs = (later != before) & ~(later.isna() & before.isna())
    assert (differs.sum(axis=1) == 1).all()
    assert set(later.columns[differs.any()]) == set(columns)


def test_versions_reach_the_frames_and_the_export(
    market: SyntheticMarketplace, tmp_path: Path
) -> None:
    versions = market.business_versions
    assert versions is not None
    businesses, identifiers, _, _ = to_contract_frames(market, "k", versions=True)
    assert len(businesses) == len(market.businesses) + len(versions)
    assert not businesses.duplicated(["business_id", "updated_at"]).any()
    assert {"updated_at"} <= set(identifiers.columns)
    one = versions.iloc[0]
    carried = identifiers[identifiers["business_id"] == one["business_id"]]
    assert carried["updated_at"].nunique() == 2
    write_export(market, tmp_path, "csv")
    written = pd.read_csv(tmp_path / "businesses.csv")
    assert len(written) == len(businesses)
    assert written["updated_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    events = pd.read_csv(tmp_path / "credit_events.csv")
    assert list(events.columns) == CREDIT_EVENT_COLUMNS and len(events) == len(market.credit_events)
