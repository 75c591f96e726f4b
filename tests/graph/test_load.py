"""Online load: exact, idempotent, incremental; TRADES_WITH always equals its orders."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.load import LoadError, graph_counts, load_frames, read_pairs
from graph.session import read_frame
from tests.graph.frames import expected_pairs, make_frames, normalise_pairs

pytestmark = pytest.mark.neo4j

FP = "test-fingerprint"

RECOMPUTED_FROM_SOLD_TO = """
MATCH (s:Business)-[r:SOLD_TO]->(b:Business)
WITH s, b, count(r) AS orders,
     sum(CASE WHEN r.status <> 'cancelled' THEN r.amount_base ELSE 0.0 END) AS gmv,
     sum(CASE WHEN r.status = 'refunded' THEN 1 ELSE 0 END) AS refunded,
     sum(CASE WHEN r.status = 'disputed' THEN 1 ELSE 0 END) AS disputed,
     sum(CASE WHEN r.status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
     min(r.ts) AS first_ts, max(r.ts) AS last_ts
RETURN s.business_id AS seller_id, b.business_id AS buyer_id, orders, gmv, refunded, disputed,
       cancelled, first_ts.epochSeconds * 1000000 + first_ts.nanosecond / 1000 AS first_ts,
       last_ts.epochSeconds * 1000000 + last_ts.nanosecond / 1000 AS last_ts
"""


def _load(driver, frames, orders=None, batch_size=128):
    return load_frames(
        driver,
        frames.businesses,
        frames.identifiers,
        [frames.orders if orders is None else orders],
        frames.outcomes,
        key_fingerprint=FP,
        batch_size=batch_size,
        hub_threshold=5,
    )


def _assert_pairs_match(driver, orders: pd.DataFrame) -> None:
    stored = normalise_pairs(read_pairs(driver))
    pd.testing.assert_frame_equal(stored, expected_pairs(orders), check_exact=False, rtol=1e-12)
    recomputed = normalise_pairs(read_frame(driver, RECOMPUTED_FROM_SOLD_TO))
    pd.testing.assert_frame_equal(stored, recomputed, check_exact=False, rtol=1e-12)


def test_first_load_counts_and_pairs(neo4j_driver) -> None:
    frames = make_frames()
    result = _load(neo4j_driver, frames)
    assert result.reconciles
    assert result.tables["orders"].inserted == len(frames.orders)
    counts = graph_counts(neo4j_driver)
    assert counts["businesses"] == len(frames.businesses)
    assert counts["orders"] == len(frames.orders)
    assert counts["identifier_links"] == len(frames.identifiers)
    assert counts["outcomes"] == len(frames.outcomes)
    _assert_pairs_match(neo4j_driver, frames.orders)
    hubs = read_frame(neo4j_driver, "MATCH (i:Identifier {hub: true}) RETURN i.hash AS hash")
    assert hubs["hash"].tolist() == ["warehouse"]
    run = read_frame(
        neo4j_driver,
        "MATCH (r:LoadRun) RETURN r.status AS status, r.read AS read, "
        "r.inserted AS inserted, r.orders_inserted AS orders_inserted",
    )
    assert run["status"].tolist() == ["completed"]
    assert run["read"].iloc[0] == run["inserted"].iloc[0] == result.total.read
    assert run["orders_inserted"].iloc[0] == len(frames.orders)


def test_loading_twice_changes_nothing(neo4j_driver) -> None:
    frames = make_frames()
    _load(neo4j_driver, frames)
    counts, pairs = graph_counts(neo4j_driver), normalise_pairs(read_pairs(neo4j_driver))
    again = _load(neo4j_driver, frames, batch_size=97)
    for table, table_counts in again.tables.items():
        assert table_counts.unchanged == table_counts.read, table
        assert table_counts.inserted == table_counts.updated == 0, table
    assert graph_counts(neo4j_driver) == counts
    pd.testing.assert_frame_equal(normalise_pairs(read_pairs(neo4j_driver)), pairs)


def test_incremental_export_with_status_updates(neo4j_driver) -> None:
    frames = make_frames()
    first, second = frames.orders.iloc[:400], frames.orders.iloc[400:]
    _load(neo4j_driver, frames, orders=first)
    _assert_pairs_match(neo4j_driver, first)
    changed = first.iloc[:50].copy()
    changed["status"] = "refunded"
    changed["status_at"] = changed["ts"] + pd.Timedelta(days=3)
    changed.iloc[:10, changed.columns.get_loc("status")] = "cancelled"
    untouched = first.iloc[50:]
    later = pd.concat([changed, second], ignore_index=True)
    result = _load(neo4j_driver, frames, orders=later)
    assert result.tables["orders"].inserted == len(second)
    assert result.tables["orders"].updated == 50  # status_at moved for all of them
    assert result.tables["orders"].unchanged == 0
    final = pd.concat([changed, untouched, second], ignore_index=True)
    assert graph_counts(neo4j_driver)["orders"] == len(frames.orders)
    _assert_pairs_match(neo4j_driver, final)


def test_changed_business_is_updated(neo4j_driver) -> None:
    frames = make_frames(n_businesses=10, n_orders=20)
    _load(neo4j_driver, frames)
    frames.businesses.loc[0, "region"] = "R9"
    frames.businesses.loc[1, "employees"] = pd.NA
    result = _load(neo4j_driver, frames)
    assert result.tables["businesses"].updated == 2 - int(
        pd.isna(make_frames(10, 20).businesses.loc[1, "employees"])
    )
    region = read_frame(
        neo4j_driver,
        "MATCH (b:Business {business_id: $id}) RETURN b.region AS r",
        id=frames.businesses.loc[0, "business_id"],
    )
    assert region["r"].tolist() == ["R9"]


def test_order_with_unknown_party_rolls_back_its_batch(neo4j_driver) -> None:
    frames = make_frames(n_businesses=10, n_orders=20)
    bad = frames.orders.copy()
    bad.loc[5, "buyer_id"] = "NOT-A-BUSINESS"
    with pytest.raises(LoadError, match="validate the export"):
        _load(neo4j_driver, frames, orders=bad, batch_size=1000)
    assert graph_counts(neo4j_driver)["orders"] == 0
    assert graph_counts(neo4j_driver)["pairs"] == 0
    failed = read_frame(neo4j_driver, "MATCH (r:LoadRun) RETURN r.status AS status")
    assert failed["status"].tolist() == ["failed"]
