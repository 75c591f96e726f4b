"""The batched circular-trading detector returns the library query's rows (against the real
Neo4j), and its order search keeps the rule's time, amount and distinct-business limits."""

from __future__ import annotations

from typing import Any

import neo4j
import numpy as np
import pandas as pd
import pytest
from fraud_fixture import build_fraud_fixture

from graph import cycles
from graph.load import load_frames
from graph.query_library import load_library, run_query
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

PARAMS = [
    {},
    {"window_days": 60},
    {"min_amount": 6_000},
    {"max_partners": 3},
    {"min_pass_ratio": 0.0, "max_pass_ratio": 100.0, "limit": 5},
    {"since": "2024-03-01T00:00:00Z"},
]
DAY_US = 86_400_000_000


def _library(driver: neo4j.Driver, params: dict[str, Any]) -> list[dict[str, Any]]:
    return run_query(driver, load_library()["circular_trading"], params, timeout_s=300).rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(cycles.COLUMNS))
    for column in ("businesses", "txn_ids", "amounts"):
        frame[column] = frame[column].map(tuple)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="ISO8601")
    frame["closed_at"] = pd.to_datetime(frame["closed_at"], utc=True, format="ISO8601")
    return frame.sort_values(["started_at", "businesses", "txn_ids"], ignore_index=True)


def _same(batched: list[dict[str, Any]], library: list[dict[str, Any]]) -> None:
    pd.testing.assert_frame_equal(
        _frame(batched), _frame(library), check_dtype=False, rtol=1e-9, atol=1e-4
    )


@pytest.mark.neo4j
@pytest.mark.parametrize("params", PARAMS)
def test_batched_circular_trading_equals_the_library_query_on_the_fixture(
    neo4j_driver: neo4j.Driver, params: dict[str, Any]
) -> None:
    build_fraud_fixture(neo4j_driver)
    library = _library(neo4j_driver, params)
    _same(cycles.circular_trading(neo4j_driver, params), library)
    if not params:
        assert len(library) >= 3  # the fixture's ring loop and its back-and-forth pairs


@pytest.mark.neo4j
def test_batched_circular_trading_equals_the_library_query_on_a_marketplace(
    neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=1500, seed=3))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "k")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes, key_fingerprint="fp")
    params = {"limit": 100_000}
    library = _library(neo4j_driver, params)
    assert len(library) >= 10
    _same(cycles.circular_trading(neo4j_driver, params), library)
    # many small reads and start groups: the same rows
    monkeypatch.setattr(cycles, "PAIRS_PER_READ", 7)
    monkeypatch.setattr(cycles, "MAX_FRONTIER", 50)
    _same(cycles.circular_trading(neo4j_driver, params), library)


@pytest.mark.neo4j
def test_a_search_past_its_budget_says_so(neo4j_driver: neo4j.Driver) -> None:
    build_fraud_fixture(neo4j_driver)
    with pytest.raises(cycles.CycleBudgetError, match="budget"):
        cycles.circular_trading(neo4j_driver, budget_s=-1.0)


def _orders(*rows: tuple[str, str, float, float]) -> cycles.Orders:
    """Orders ``(seller, buyer, amount, day)``; txn ids T0, T1, ... in the given order."""
    return cycles.Orders.from_frame(
        pd.DataFrame(
            {
                "seller": [r[0] for r in rows],
                "buyer": [r[1] for r in rows],
                "amount": [r[2] for r in rows],
                "ts": [int(r[3] * DAY_US) for r in rows],
                "txn_id": [f"T{i}" for i in range(len(rows))],
            }
        )
    )


def _found(orders: cycles.Orders, **rule: Any) -> list[list[str]]:
    rule = {
        "window_days": 30, "min_pass_ratio": 0.8, "max_pass_ratio": 1.25, "min_amount": 1000.0,
    } | rule  # fmt: skip
    rows = cycles.cycle_rows(orders, cycles.find_cycles(orders, **rule), limit=100)
    return sorted(r["txn_ids"] for r in rows)


def test_a_cycle_needs_later_orders_inside_the_window_passing_the_amount_on() -> None:
    loop = _orders(("A", "B", 5000, 1), ("B", "C", 4900, 2), ("C", "A", 4800, 3))
    assert _found(loop) == [["T0", "T1", "T2"]]
    backwards = _orders(("A", "B", 5000, 3), ("B", "C", 4900, 2), ("C", "A", 4800, 1))
    assert _found(backwards) == []
    slow = _orders(("A", "B", 5000, 1), ("B", "C", 4900, 20), ("C", "A", 4800, 40))
    assert _found(slow) == [] and _found(slow, window_days=45) == [["T0", "T1", "T2"]]
    shrinking = _orders(("A", "B", 5000, 1), ("B", "C", 700, 2), ("C", "A", 650, 3))
    assert _found(shrinking) == []
    small = _orders(("A", "B", 500, 1), ("B", "A", 500, 2))
    assert _found(small) == [] and _found(small, min_amount=100) == [["T0", "T1"]]


def test_a_cycle_passes_through_distinct_businesses_of_two_to_six() -> None:
    # A -> B -> C -> B -> A revisits B: the two 2-cycles count, the 4-order chain does not
    figure_eight = _orders(
        ("A", "B", 5000, 1), ("B", "C", 5000, 2), ("C", "B", 5000, 3), ("B", "A", 5000, 4)
    )
    assert _found(figure_eight) == [["T0", "T3"], ["T1", "T2"]]
    names = [f"N{i}" for i in range(8)]
    for size, expected in ((6, 1), (7, 0)):
        ring = _orders(
            *((names[i], names[(i + 1) % size], 5000.0, float(i + 1)) for i in range(size))
        )
        assert len(_found(ring)) == expected


def test_only_pairs_inside_a_strongly_connected_component_can_carry_a_cycle() -> None:
    pairs = pd.DataFrame({"seller": ["A", "B", "C", "C", "D"], "buyer": ["B", "C", "A", "D", "E"]})
    kept = cycles.cyclic_pairs(pairs)
    assert sorted(map(tuple, kept.to_numpy().tolist())) == [("A", "B"), ("B", "C"), ("C", "A")]
    assert np.array_equal(cycles.cyclic_pairs(pairs.iloc[3:]).shape, (0, 2))
