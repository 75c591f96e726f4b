"""Analytics: written back, consistent with the loaded graph, idempotent."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.analytics import run_all
from graph.load import load_frames
from graph.session import read_frame
from tests.graph.frames import expected_pairs, make_frames

pytestmark = pytest.mark.neo4j

PROPS = """
MATCH (b:Business)
RETURN b.business_id AS business_id, b.out_degree AS out_degree, b.in_degree AS in_degree,
       b.out_strength AS out_strength, b.in_strength AS in_strength, b.pagerank AS pagerank,
       b.identifier_component AS component, b.identifier_component_size AS component_size,
       b.louvain_community AS community
ORDER BY business_id
"""


def test_analytics_are_written_correct_and_idempotent(neo4j_driver) -> None:
    f = make_frames()
    load_frames(
        neo4j_driver,
        f.businesses,
        f.identifiers,
        [f.orders],
        None,
        key_fingerprint="fp",
        hub_threshold=5,
    )
    timings = run_all(neo4j_driver)
    assert set(timings) == {"degree_strength", "pagerank", "identifier_wcc", "louvain"}
    first = read_frame(neo4j_driver, PROPS).set_index("business_id")
    assert first.notna().all().all()

    pairs = expected_pairs(f.orders)
    out = pairs.groupby("seller_id").agg(n=("buyer_id", "size"), gmv=("gmv", "sum"))
    got = first.loc[out.index]
    assert (got["out_degree"] == out["n"]).all()
    assert got["out_strength"].to_numpy() == pytest.approx(out["gmv"].to_numpy())
    assert first["pagerank"].sum() == pytest.approx(1.0)

    # Businesses 2k and 2k+1 share a device; the shared warehouse address is a hub and ignored.
    assert first.loc["B0000", "component"] == first.loc["B0001", "component"] == "B0000"
    assert first.loc["B0002", "component"] == "B0002"
    assert (first["component_size"] == 2).all()

    run_all(neo4j_driver)
    pd.testing.assert_frame_equal(read_frame(neo4j_driver, PROPS).set_index("business_id"), first)


def test_louvain_finds_two_trading_clusters_through_gds_and_networkx(
    neo4j_driver, monkeypatch
) -> None:
    """Two tight trading circles joined by one small order: both paths find the two circles
    and name each after its smallest business_id."""
    import graph.analytics as analytics

    businesses = [f"B{i:02d}" for i in range(8)]
    neo4j_driver.execute_query(
        "UNWIND $ids AS id CREATE (:Business {business_id: id})", ids=businesses
    )
    circles = [(a, b, 1000.0) for group in (businesses[:4], businesses[4:]) for a in group
               for b in group if a != b]  # fmt: skip
    neo4j_driver.execute_query(
        "UNWIND $rows AS r MATCH (s:Business {business_id: r[0]}), (b:Business {business_id: r[1]})"
        " CREATE (s)-[:TRADES_WITH {gmv: r[2], orders: 1}]->(b)",
        rows=[*circles, ("B03", "B04", 1.0)],
    )
    expected = {b: ("B00" if b < "B04" else "B04") for b in businesses}
    paths = ["gds", "networkx"] if analytics.has_gds(neo4j_driver) else ["networkx"]
    for path in paths:
        monkeypatch.setattr(analytics, "has_gds", lambda *_a, _p=path, **_k: _p == "gds")
        analytics.louvain(neo4j_driver)
        rows, _, _ = neo4j_driver.execute_query(
            "MATCH (b:Business) RETURN b.business_id AS id, b.louvain_community AS c"
        )
        assert {r["id"]: r["c"] for r in rows} == expected, path
    assert paths[0] == "gds", "the local server starts with the GDS plugin"
