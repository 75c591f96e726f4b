"""Every library query against the hand-built fixture graph (tests/graph/fraud_fixture.py),
whose answers are known by construction."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest
from fraud_fixture import FAMILY, RING, build_fraud_fixture

from graph.query_library import get_query, run_query

pytestmark = pytest.mark.neo4j


@pytest.fixture
def fixture_driver(neo4j_driver: neo4j.Driver) -> neo4j.Driver:
    build_fraud_fixture(neo4j_driver)
    return neo4j_driver


def rows(driver: neo4j.Driver, name: str, **params: Any) -> list[dict[str, Any]]:
    return run_query(driver, get_query(name), params).rows


def test_identifier_rings_find_the_ring_and_keep_family_and_hub_out(
    fixture_driver: neo4j.Driver,
) -> None:
    found = rows(fixture_driver, "identifier_rings")
    assert [r["members"] for r in found] == [RING]  # hub address does not pull H1..H6 in
    ring = found[0]
    assert ring["size"] == 4 and ring["shared_identifiers"] == 2
    assert sorted(ring["identifier_types"]) == ["device_id", "phone"]
    assert ring["internal_gmv"] == pytest.approx(39_500)
    assert ring["total_gmv"] == pytest.approx(40_500)
    assert ring["internal_trade_share"] == pytest.approx(39_500 / 40_500, abs=1e-4)
    assert ring["mean_risk_score"] == pytest.approx(0.7) and ring["defaults"] == 1

    everyone = rows(fixture_driver, "identifier_rings", min_internal_share=0.0)
    assert sorted(r["ring_id"] for r in everyone) == ["F1", "R1"]
    family = next(r for r in everyone if r["ring_id"] == "F1")
    assert family["members"] == FAMILY and family["internal_trade_share"] == 0.0

    # device and owner are shared by three: with max_sharing=2 only the pairs remain
    pairs = rows(
        fixture_driver, "identifier_rings", max_sharing=2, min_size=2, min_internal_share=0.0
    )
    assert sorted(r["members"] for r in pairs) == [["O", "V4"], ["R3", "R4"], ["U", "V1"]]
    assert rows(fixture_driver, "identifier_rings", max_sharing=2, min_internal_share=0.0) == []


def test_circular_trading_finds_time_ordered_loops_passing_the_amount_on(
    fixture_driver: neo4j.Driver,
) -> None:
    cycles = rows(fixture_driver, "circular_trading")
    loops = {frozenset(c["businesses"]) for c in cycles}
    # the ring's 3-cycle, and the 2-cycles of the pairs trading back and forth; not the
    # slow loop E (45 days), not D (backwards in time), not N (amounts differ 7x)
    assert loops == {
        frozenset({"R1", "R2", "R3"}),
        frozenset({"W1", "W2"}),
        frozenset({"M1", "M2"}),
    }
    ring_cycle = next(c for c in cycles if c["hops"] == 3)
    assert ring_cycle["businesses"] == ["R1", "R2", "R3"]
    assert ring_cycle["amounts"] == [10_000, 9_500, 9_000]
    assert ring_cycle["days"] == pytest.approx(4.0)
    assert all(c["days"] <= 30 for c in cycles)

    slow = rows(fixture_driver, "circular_trading", window_days=60)
    assert frozenset({"E1", "E2", "E3"}) in {frozenset(c["businesses"]) for c in slow}
    strict = rows(fixture_driver, "circular_trading", min_amount=6_000)
    assert {frozenset(c["businesses"]) for c in strict} == {frozenset({"R1", "R2", "R3"})}


def test_circular_trading_leaves_out_businesses_with_too_many_partners(
    fixture_driver: neo4j.Driver,
) -> None:
    # R1 trades with R2, R3, R4 and X1: four partners, so with three at most its loop goes
    found = rows(fixture_driver, "circular_trading", max_partners=3)
    assert {frozenset(c["businesses"]) for c in found} == {
        frozenset({"W1", "W2"}),
        frozenset({"M1", "M2"}),
    }
    kept = rows(fixture_driver, "circular_trading", max_partners=4)
    assert frozenset({"R1", "R2", "R3"}) in {frozenset(c["businesses"]) for c in kept}


def test_wash_trading_finds_the_repeated_reciprocal_pair(fixture_driver: neo4j.Driver) -> None:
    pairs = rows(fixture_driver, "wash_trading")
    assert [(p["business_a"], p["business_b"]) for p in pairs] == [("W1", "W2")]
    assert pairs[0]["matched_a_to_b"] == 4 and pairs[0]["matched_b_to_a"] == 4
    assert pairs[0]["matched_share"] == 1.0
    looser = rows(fixture_driver, "wash_trading", min_repeats=2)
    assert {(p["business_a"], p["business_b"]) for p in looser} == {("W1", "W2"), ("M1", "M2")}
    assert rows(fixture_driver, "wash_trading", amount_tolerance=0.001) == []


def test_pass_through_finds_the_funnel_not_the_wholesaler(fixture_driver: neo4j.Driver) -> None:
    found = rows(fixture_driver, "pass_through")
    assert [r["business_id"] for r in found] == ["P"]
    assert found[0]["money_in"] == pytest.approx(10_000)
    assert found[0]["money_out"] == pytest.approx(10_500)
    assert found[0]["suppliers"] == 5 and found[0]["customers"] == 1
    looser = rows(fixture_driver, "pass_through", min_balance=0.4)
    assert {r["business_id"] for r in looser} == {"P", "Q"}


def test_bust_out_needs_youth_growth_and_linked_counterparties(
    fixture_driver: neo4j.Driver,
) -> None:
    found = rows(fixture_driver, "bust_out")
    assert [r["business_id"] for r in found] == ["U"]  # not Y (unlinked), not O (old)
    hit = found[0]
    assert hit["recent_gmv"] == pytest.approx(35_000) and hit["previous_gmv"] == pytest.approx(
        1_000
    )
    assert hit["growth"] == pytest.approx(35.0) and hit["concentration"] == 1.0
    assert hit["linked_counterparties"] == ["V1"] and hit["age_days"] == 116
    assert {r["business_id"] for r in rows(fixture_driver, "bust_out", min_linked=0)} == {"U", "Y"}
    # seen from a fixed date before the ramp-up, nothing had grown yet
    assert rows(fixture_driver, "bust_out", as_of="2024-05-01") == []


def test_risky_communities_by_scores_or_by_defaults(fixture_driver: neo4j.Driver) -> None:
    found = {r["community"]: r for r in rows(fixture_driver, "risky_communities")}
    assert set(found) == {1, 3}  # 2 is low risk, 4 and 5 are too small
    assert found[1]["high_risk_share"] == 1.0 and found[1]["size"] == 4
    assert found[3]["scored"] == 0 and found[3]["defaults"] == 2
    assert set(rows(fixture_driver, "risky_communities", min_default_share=1.0)[0]) >= {"size"}
    strict = rows(fixture_driver, "risky_communities", high_pd=0.9, min_default_share=0.7)
    assert strict == []


def test_neighbourhood_lists_counterparties_with_scores_and_orders(
    fixture_driver: neo4j.Driver,
) -> None:
    found = rows(fixture_driver, "neighbourhood", business_id="R1", hops=1)
    by_id = {r["business_id"]: r for r in found}
    assert set(by_id) == {"R1", "R2", "R3", "R4", "X1"}
    assert by_id["R1"]["distance"] == 0
    assert by_id["R2"]["risk_score"] == 0.7 and by_id["R2"]["outcomes"][0]["defaulted"] == 1
    assert by_id["R3"]["link_gmv"] == pytest.approx(9_000)
    assert [o["amount_base"] for o in by_id["R3"]["latest_orders"]] == [9_000]
    assert by_id["R2"]["shares_identifier"] and by_id["R3"]["shares_identifier"]
    assert not by_id["R4"]["shares_identifier"]  # R4 shares a phone with R3 only
    assert not by_id["X1"]["shares_identifier"]

    two = {r["business_id"]: r for r in rows(fixture_driver, "neighbourhood", business_id="R1")}
    assert set(two) == set(by_id) | {"F1"}
    assert two["F1"]["distance"] == 2 and two["F1"]["via"] == "X1"
    assert rows(fixture_driver, "neighbourhood", business_id="nobody") == []
