"""Credit events in the real Neo4j: loaded once, known to snapshots only before their date,
and the source of labels for any score date."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.history import count_history
from graph.load import LoadError, load_frames
from graph.snapshot import read_credit_events, read_labels, read_snapshot
from loaders.columns import CREDIT_EVENT_COLUMNS, OUTCOME_COLUMNS
from loaders.labels import labels_from_credit_events, stack_outcomes
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j

AS_OF = pd.Timestamp("2025-01-01", tz="UTC")


def _events() -> pd.DataFrame:
    rows = [
        ("B0001", "credit_opened", "2024-03-01T00:00:00"),
        ("B0001", "defaulted", "2024-12-31T23:59:59"),  # known at AS_OF
        ("B0002", "credit_opened", "2024-05-01T00:00:00"),
        ("B0002", "defaulted", "2025-01-01T00:00:00"),  # exactly at AS_OF: not yet known
        ("B0003", "credit_opened", "2024-06-01T00:00:00"),
        ("B0003", "fraud_confirmed", "2025-04-01T12:00:00"),
        ("B0004", "credit_opened", "2024-06-01T00:00:00"),
        ("B0004", "credit_closed", "2024-09-01T00:00:00"),
    ]
    frame = pd.DataFrame(rows, columns=CREDIT_EVENT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _load(driver, f, events, outcomes=None):
    return load_frames(
        driver,
        f.businesses,
        f.identifiers,
        [f.orders],
        f.outcomes if outcomes is None else outcomes,
        key_fingerprint="fp",
        batch_size=5,
        credit_events=events,
    )


def test_credit_events_load_once_and_snapshots_see_only_the_past(neo4j_driver) -> None:
    f = make_frames(n_orders=60)
    events = _events()
    first = _load(neo4j_driver, f, events)
    assert first.tables["credit_events"].inserted == len(events) and first.reconciles
    again = _load(neo4j_driver, f, events)
    assert again.tables["credit_events"].unchanged == len(events)
    assert count_history(neo4j_driver)["credit_events"] == len(events)

    stored = read_credit_events(neo4j_driver)
    assert list(stored.columns) == CREDIT_EVENT_COLUMNS
    expected = events.sort_values(["at", "business_id", "event"], ignore_index=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)

    snap = read_snapshot(neo4j_driver, AS_OF)
    assert list(snap.credit_events.columns) == CREDIT_EVENT_COLUMNS
    pd.testing.assert_frame_equal(
        snap.credit_events, expected[expected["at"] < AS_OF].reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip
    assert (snap.credit_events["at"] < AS_OF).all()
    early = read_snapshot(neo4j_driver, "2024-04-01")
    assert early.credit_events["business_id"].tolist() == ["B0001"]


def test_events_of_unknown_businesses_are_refused(neo4j_driver) -> None:
    f = make_frames(n_businesses=5, n_orders=10)
    bad = pd.DataFrame(
        {"business_id": ["NOPE"], "event": ["defaulted"], "at": [AS_OF]}
    )  # fmt: skip
    with pytest.raises(LoadError, match="not loaded"):
        _load(neo4j_driver, f, bad)
    with pytest.raises(LoadError, match="repeat"):
        _load(neo4j_driver, f, pd.concat([_events().iloc[:1]] * 2))


def test_read_labels_stacks_outcomes_and_events(neo4j_driver) -> None:
    f = make_frames(n_orders=60)
    events = _events()
    outcomes = f.outcomes.copy()
    # B0001 defaulted on 2024-12-31, so at 2024-07-01 the events say defaulted = 1.
    clash = (outcomes["business_id"] == "B0001") & (outcomes["as_of"] == "2024-07-01")
    assert clash.sum() == 1
    outcomes.loc[clash, "defaulted"] = 0
    _load(neo4j_driver, f, events, outcomes)
    dates = [pd.Timestamp("2024-07-01", tz="UTC"), AS_OF]
    stacked = read_labels(neo4j_driver, dates)
    expected = stack_outcomes(outcomes, events, dates)
    pd.testing.assert_frame_equal(stacked.labels, expected.labels, check_dtype=False)
    rejected = set(zip(stacked.rejected["business_id"], stacked.rejected["as_of"], strict=True))
    assert ("B0001", dates[0]) in rejected
    assert rejected == set(
        zip(expected.rejected["business_id"], expected.rejected["as_of"], strict=True)
    )
    assert not stacked.labels[["business_id", "as_of"]].apply(tuple, axis=1).isin(rejected).any()
    derived = labels_from_credit_events(events, [AS_OF])
    assert derived.set_index("business_id")["defaulted"].to_dict() == {"B0002": 0, "B0003": 0}


def test_generated_marketplace_labels_survive_the_round_trip(neo4j_driver) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=300, seed=4))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "k")
    load_frames(
        neo4j_driver, businesses, identifiers, [orders], outcomes, key_fingerprint="fp",
        credit_events=market.credit_events,
    )  # fmt: skip
    dates = sorted(outcomes["as_of"].unique())
    stacked = read_labels(neo4j_driver, dates)
    assert stacked.rejected.empty
    assert len(stacked.labels) == len(outcomes)
    both = stacked.labels[stacked.labels["source"] == "both"]
    assert len(both) == int(outcomes["defaulted"].notna().sum())
    credit = outcomes[outcomes["defaulted"].notna()][OUTCOME_COLUMNS]
    assert int(both["defaulted"].sum()) == int(credit["defaulted"].sum())


def test_an_export_with_credit_events_and_no_outcomes_labels_every_cohort(neo4j_driver) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=300, seed=4))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "k")
    load_frames(
        neo4j_driver, businesses, identifiers, [orders], outcomes.iloc[:0],
        key_fingerprint="fp", credit_events=market.credit_events,
    )  # fmt: skip
    events = read_credit_events(neo4j_driver)
    # A mid-month date no outcomes row could have labelled.
    for as_of in (pd.Timestamp("2023-06-15", tz="UTC"), pd.Timestamp("2024-01-01", tz="UTC")):
        snap = read_snapshot(neo4j_driver, as_of)
        derived = labels_from_credit_events(events, [as_of])
        assert len(snap.outcomes) == len(derived) > 20
        pd.testing.assert_frame_equal(
            snap.outcomes, derived.sort_values("business_id", ignore_index=True),
            check_dtype=False,
        )  # fmt: skip
        assert (snap.credit_events["at"] < as_of).all()
    given = outcomes[outcomes["as_of"] == pd.Timestamp("2024-01-01", tz="UTC")]
    expected = given[given["defaulted"].notna()].set_index("business_id")["defaulted"]
    got = snap.outcomes.set_index("business_id")["defaulted"]
    assert got.sort_index().astype(int).to_dict() == expected.sort_index().astype(int).to_dict()
    late = read_snapshot(neo4j_driver, events["at"].max() - pd.Timedelta(days=30))
    assert late.outcomes.empty  # the events do not cover its window yet
