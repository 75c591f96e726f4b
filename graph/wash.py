"""Wash trading in batches: the library's ``wash_trading`` rule at any size.

The Cypher query (``graph/queries/wash_trading.cypher``, what analysts run in Browser or
``tradegraph query``) matches every order one way against every order the other way inside
the server: ``n_ab x n_ba`` comparisons per pair, which at a busy pair of long-standing
partners is tens of thousands of row pairs in the transaction's memory. Here the candidate
pairs come from ``TRADES_WITH`` (one cheap read), their orders are read in batches of pairs,
and the matching runs in numpy, at most :data:`MAX_COMPARISONS` order pairs at a time. The
rule and the rows are the library query's (``tests/graph/test_wash.py`` compares them), so
``clusters`` can use this path and analysts keep their query.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Final

import neo4j
import numpy as np
import pandas as pd

from graph import cypher
from graph.session import read_frame

#: Order pairs compared in one numpy batch (and so the most held in memory at once).
MAX_COMPARISONS: Final = 4_000_000
_SECOND_US: Final = 1_000_000

#: The library query's defaults (its ``// param`` headers).
DEFAULTS: Final[dict[str, Any]] = {
    "min_repeats": 3,
    "amount_tolerance": 0.05,
    "max_gap_days": 30,
    "min_matched_share": 0.5,
    "limit": 1000,
}
COLUMNS: Final = [
    "business_a", "business_b", "matched_a_to_b", "matched_b_to_a", "pair_orders",
    "matched_gmv", "pair_gmv", "matched_share", "risk_score_a", "risk_score_b",
]  # fmt: skip


class WashBudgetError(TimeoutError):
    """The batched search ran past its time budget."""


def _batches(pairs: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Consecutive pairs whose ``orders_ab * orders_ba`` add up to at most
    :data:`MAX_COMPARISONS` (a pair larger than that is a batch of its own)."""
    cost = (pairs["orders_ab"] * pairs["orders_ba"]).to_numpy()
    start, total = 0, 0
    for i, c in enumerate(cost):
        if total and total + c > MAX_COMPARISONS:
            yield pairs.iloc[start:i]
            start, total = i, 0
        total += c
    if start < len(pairs):
        yield pairs.iloc[start:]


def match_orders(
    orders: pd.DataFrame, *, amount_tolerance: float, max_gap_days: int
) -> pd.DataFrame:
    """Per pair (``business_a < business_b``): how many distinct orders each way are answered by
    an order the other way within ``max_gap_days`` (whole seconds, rounded down, as Cypher's
    ``duration.inSeconds``) and ``amount_tolerance`` of the larger amount, and their GMV.

    ``orders``: ``seller, buyer, txn_id, amount, ts`` (epoch µs), both directions of each pair.
    Returns ``business_a, business_b, matched_a_to_b, matched_b_to_a, matched_gmv``.
    """
    forward = orders[orders["seller"] < orders["buyer"]]
    backward = orders[orders["seller"] > orders["buyer"]].rename(
        columns={"seller": "buyer", "buyer": "seller"}
    )
    both = forward.merge(backward, on=["seller", "buyer"], suffixes=("_f", "_b"))
    x, y = both["amount_f"].to_numpy(float), both["amount_b"].to_numpy(float)
    gap_s = np.floor_divide(
        both["ts_b"].to_numpy(np.int64) - both["ts_f"].to_numpy(np.int64), _SECOND_US
    )
    ok = (np.abs(x - y) <= amount_tolerance * np.maximum(x, y)) & (
        np.abs(gap_s) <= max_gap_days * 86_400
    )
    hits = both[ok]
    keys = ["seller", "buyer"]
    f = hits.drop_duplicates([*keys, "txn_id_f"]).groupby(keys)["amount_f"].agg(["size", "sum"])
    b = hits.drop_duplicates([*keys, "txn_id_b"]).groupby(keys)["amount_b"].agg(["size", "sum"])
    out = f.merge(b, left_index=True, right_index=True, how="outer", suffixes=("_f", "_b"))
    out = out.fillna(0).reset_index()
    return pd.DataFrame(
        {
            "business_a": out["seller"],
            "business_b": out["buyer"],
            "matched_a_to_b": out["size_f"].astype(int),
            "matched_b_to_a": out["size_b"].astype(int),
            "matched_gmv": out["sum_f"] + out["sum_b"],
        }
    )


def wash_trading(
    driver: neo4j.Driver,
    params: dict[str, Any] | None = None,
    *,
    budget_s: float | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of the library's ``wash_trading`` query for ``params`` (its defaults otherwise),
    in its order. Raises :class:`WashBudgetError` once ``budget_s`` seconds have passed."""
    p = {**DEFAULTS, **(params or {})}
    started = time.perf_counter()
    pairs = read_frame(driver, cypher.WASH_CANDIDATE_PAIRS, database, min_repeats=p["min_repeats"])
    matched = []
    for batch in _batches(pairs):
        if budget_s is not None and time.perf_counter() - started > budget_s:
            raise WashBudgetError(f"wash_trading ran past its {budget_s:.0f}s budget")
        ask = [
            {"a": a, "b": b} for a, b in zip(batch["business_a"], batch["business_b"], strict=True)
        ]
        orders = read_frame(driver, cypher.WASH_PAIR_ORDERS, database, pairs=ask)
        if len(orders):
            matched.append(
                match_orders(
                    orders, amount_tolerance=p["amount_tolerance"], max_gap_days=p["max_gap_days"]
                )
            )
    if not matched:
        return []
    rows = pairs.merge(pd.concat(matched), on=["business_a", "business_b"])
    rows = rows[
        (rows["matched_a_to_b"] >= p["min_repeats"])
        & (rows["matched_b_to_a"] >= p["min_repeats"])
        & (rows["pair_gmv"] > 0)
    ]
    rows = rows.assign(
        pair_orders=rows["orders_ab"] + rows["orders_ba"],
        matched_share=(rows["matched_gmv"] / rows["pair_gmv"]),
    )
    rows = rows[rows["matched_share"] >= p["min_matched_share"]]
    rows = rows.assign(matched_share=rows["matched_share"].round(4))
    rows = rows.sort_values(["matched_share", "matched_gmv"], ascending=False, kind="stable")
    rows = rows.head(int(p["limit"]))[COLUMNS].astype(object)
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows.where(rows.notna(), None).to_dict("records")
    ]
