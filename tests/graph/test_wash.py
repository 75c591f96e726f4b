"""The batched wash-trading detector returns the library query's rows (against the real
Neo4j), whatever the parameters and however the pairs are batched."""

from __future__ import annotations

from typing import Any

import neo4j
import pandas as pd
import pytest
from fraud_fixture import build_fraud_fixture

from graph import wash
from graph.load import load_frames
from graph.query_library import load_library, run_query
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

pytestmark = pytest.mark.neo4j

PARAMS = [
    {},
    {"min_repeats": 1},
    {"min_repeats": 2, "amount_tolerance": 0.2, "max_gap_days": 3},
    {"min_repeats": 1, "min_matched_share": 0.0, "limit": 3},
]


def _library(driver: neo4j.Driver, params: dict[str, Any]) -> list[dict[str, Any]]:
    return run_query(driver, load_library()["wash_trading"], params, timeout_s=120).rows


def _same(batched: list[dict[str, Any]], library: list[dict[str, Any]]) -> None:
    def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=wash.COLUMNS).astype({"matched_gmv": float})

    pd.testing.assert_frame_equal(frame(batched), frame(library), check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("params", PARAMS)
def test_batched_wash_trading_equals_the_library_query_on_the_fixture(
    neo4j_driver: neo4j.Driver, params: dict[str, Any]
) -> None:
    build_fraud_fixture(neo4j_driver)
    library = _library(neo4j_driver, params)
    _same(wash.wash_trading(neo4j_driver, params), library)
    if not params:  # the planted wash pair, and not the near-wash or noise pairs
        assert [(r["business_a"], r["business_b"]) for r in library] == [("W1", "W2")]


def test_batched_wash_trading_equals_the_library_query_on_a_marketplace(
    neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=1500, seed=3))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "k")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes, key_fingerprint="fp")
    params = {"min_repeats": 2, "amount_tolerance": 0.1, "min_matched_share": 0.05}
    library = _library(neo4j_driver, params)
    assert len(library) >= 3
    _same(wash.wash_trading(neo4j_driver, params), library)
    monkeypatch.setattr(wash, "MAX_COMPARISONS", 50)  # many small batches: the same rows
    _same(wash.wash_trading(neo4j_driver, params), library)


def test_a_search_past_its_budget_says_so(neo4j_driver: neo4j.Driver) -> None:
    build_fraud_fixture(neo4j_driver)
    with pytest.raises(wash.WashBudgetError, match="budget"):
        wash.wash_trading(neo4j_driver, {"min_repeats": 1}, budget_s=-1.0)
