"""Point-in-time snapshots: exactly what existed before as_of, and no leakage from later data."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.load import load_frames
from graph.snapshot import read_snapshot
from loaders.columns import BUSINESS_COLUMNS, IDENTIFIER_COLUMNS, ORDER_COLUMNS, OUTCOME_COLUMNS
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j

AS_OF = pd.Timestamp("2025-01-01", tz="UTC")


def _load(driver, businesses, identifiers, orders, outcomes) -> None:
    load_frames(
        driver, businesses, identifiers, [orders], outcomes, key_fingerprint="fp", batch_size=200
    )


def _expected_orders(orders: pd.DataFrame) -> pd.DataFrame:
    out = orders[orders["ts"] < AS_OF].copy()
    later = out["status_at"] >= AS_OF
    out.loc[later, "status"] = "completed"
    out.loc[later, "status_at"] = out.loc[later, "ts"]
    return out.sort_values("txn_id", ignore_index=True)


def test_snapshot_holds_exactly_what_existed_before_as_of(neo4j_driver) -> None:
    f = make_frames()
    _load(neo4j_driver, f.businesses, f.identifiers, f.orders, f.outcomes)
    snap = read_snapshot(neo4j_driver, AS_OF)
    assert list(snap.businesses.columns) == BUSINESS_COLUMNS
    assert list(snap.orders.columns) == ORDER_COLUMNS
    assert list(snap.identifiers.columns) == IDENTIFIER_COLUMNS
    assert list(snap.outcomes.columns) == OUTCOME_COLUMNS
    businesses = f.businesses[f.businesses["registered_at"] < AS_OF].sort_values(
        "business_id", ignore_index=True
    )
    pd.testing.assert_frame_equal(snap.businesses, businesses, check_dtype=False)
    expected = _expected_orders(f.orders)
    assert (snap.orders["status_at"] < AS_OF).all()
    pd.testing.assert_frame_equal(snap.orders, expected, check_dtype=False)
    outcomes = f.outcomes[f.outcomes["as_of"] == AS_OF].sort_values(
        "business_id", ignore_index=True
    )
    pd.testing.assert_frame_equal(snap.outcomes, outcomes, check_dtype=False)
    assert set(snap.identifiers["business_id"]) <= set(businesses["business_id"])


def test_later_orders_and_status_changes_do_not_leak(neo4j_driver) -> None:
    f = make_frames()
    before = f.orders[f.orders["ts"] < AS_OF].copy()
    # As first seen: every pre-as_of order still completed, nothing from as_of onwards.
    first_seen = before.copy()
    first_seen["status"] = "completed"
    first_seen["status_at"] = first_seen["ts"]
    late_businesses = f.businesses["registered_at"] >= AS_OF
    _load(
        neo4j_driver,
        f.businesses[~late_businesses],
        f.identifiers[
            f.identifiers["business_id"].isin(f.businesses.loc[~late_businesses, "business_id"])
        ],
        first_seen[
            first_seen["seller_id"].isin(f.businesses.loc[~late_businesses, "business_id"])
            & first_seen["buyer_id"].isin(f.businesses.loc[~late_businesses, "business_id"])
        ],
        f.outcomes[f.outcomes["as_of"] <= AS_OF],
    )
    snap_before = read_snapshot(neo4j_driver, AS_OF)
    # Later exports: new businesses, orders dated after as_of, refunds/disputes dated after as_of,
    # and outcomes at later dates.
    changed = before.copy()
    changed["status"] = "disputed"
    changed["status_at"] = AS_OF + pd.Timedelta(hours=5)
    later_outcomes = f.outcomes.assign(
        as_of=pd.Timestamp("2025-06-01", tz="UTC"),
        fraud=pd.array([1] * len(f.outcomes), dtype="Int8"),
    )
    _load(
        neo4j_driver,
        f.businesses,
        f.identifiers,
        pd.concat([changed, f.orders[f.orders["ts"] >= AS_OF]], ignore_index=True),
        later_outcomes,
    )
    snap_after = read_snapshot(neo4j_driver, AS_OF)
    for name in ("businesses", "identifiers", "orders", "outcomes"):
        pd.testing.assert_frame_equal(
            getattr(snap_after, name), getattr(snap_before, name), obj=name
        )
    assert len(snap_after.orders) > 0 and len(snap_after.outcomes) > 0


def test_nested_reads_keep_nulls_in_place_and_repeat_each_records_columns(neo4j_driver) -> None:
    from graph.session import read_nested_frame

    query = "UNWIND $groups AS g RETURN g.key AS key, g.rank AS rank, g.rows AS rows ORDER BY key"
    groups = [
        {"key": "a", "rank": 1, "rows": [["x", None, 1.5], ["y", 2, None]]},
        {"key": "b", "rank": 2, "rows": [[None, 3, 0.5]]},
        {"key": "c", "rank": 3, "rows": []},
    ]
    frame = read_nested_frame(
        neo4j_driver, query, nested="rows", fields=("name", "count", "share"), groups=groups
    )
    assert list(frame.columns) == ["key", "rank", "name", "count", "share"]
    assert frame["key"].tolist() == ["a", "a", "b"] and frame["rank"].tolist() == [1, 1, 2]
    assert frame["name"].tolist()[:2] == ["x", "y"] and frame["name"].isna().tolist()[2]
    assert frame["count"].isna().tolist() == [True, False, False]
    assert frame["share"].isna().tolist() == [False, True, False]
    empty = read_nested_frame(
        neo4j_driver, query, nested="rows", fields=("name", "count", "share"), groups=[]
    )
    assert empty.empty and list(empty.columns) == ["key", "rank", "name", "count", "share"]
    with pytest.raises(ValueError, match="no 'orders' column"):
        read_nested_frame(neo4j_driver, query, nested="orders", fields=("a",), groups=groups)
