"""Small, hand-built contract frames for the graph tests (no validator, no generator needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graph.pairs import pair_totals
from loaders.columns import BUSINESS_COLUMNS, IDENTIFIER_COLUMNS, ORDER_COLUMNS, OUTCOME_COLUMNS

T0 = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass
class Frames:
    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    orders: pd.DataFrame
    outcomes: pd.DataFrame


def make_frames(n_businesses: int = 40, n_orders: int = 600, seed: int = 7) -> Frames:
    """A random marketplace: businesses registered over 2024, orders over 2024-2025 between
    businesses registered before the order, some refunded/disputed/cancelled later, shared
    identifiers (one shared by every business: a hub), outcomes at two dates."""
    rng = np.random.default_rng(seed)
    ids = [f"B{i:04d}" for i in range(n_businesses)]
    registered = T0 + pd.to_timedelta(np.sort(rng.integers(0, 300, n_businesses)), unit="D")
    businesses = pd.DataFrame(
        {
            "business_id": pd.Series(ids, dtype="str"),
            "kind": pd.Series(rng.choice(["sme", "consumer"], n_businesses), dtype="str"),
            "registered_at": pd.Series(registered, dtype="datetime64[us, UTC]"),
            "region": pd.Series(rng.choice(["R1", "R2"], n_businesses), dtype="str"),
            "industry": pd.Series(rng.choice(["food", "tools"], n_businesses), dtype="str"),
            "employees": pd.Series(
                [None if i % 5 == 0 else int(rng.integers(1, 50)) for i in range(n_businesses)],
                dtype="Int64",
            ),
            "declared_revenue": pd.Series(
                [
                    np.nan if i % 7 == 0 else float(rng.integers(1, 10**6))
                    for i in range(n_businesses)
                ],
                dtype="float64",
            ),
        }
    )[BUSINESS_COLUMNS]
    ident_rows = []
    for i, b in enumerate(ids):
        ident_rows.append((b, "phone", f"phone{i:04d}"))
        ident_rows.append((b, "device_id", f"device{i // 2:04d}"))  # pairs share a device
        ident_rows.append((b, "address", "warehouse"))  # everyone shares: a hub
    identifiers = pd.DataFrame(ident_rows, columns=IDENTIFIER_COLUMNS).astype("str")
    seller = rng.integers(0, n_businesses, n_orders)
    buyer = (seller + rng.integers(1, n_businesses, n_orders)) % n_businesses
    start = pd.DatetimeIndex(registered.tz_convert(None).to_numpy()[np.maximum(seller, buyer)])
    ts = start.tz_localize("UTC") + pd.to_timedelta(
        rng.integers(0, 400 * 86400, n_orders), unit="s"
    )
    status = rng.choice(
        ["completed", "refunded", "disputed", "cancelled"], n_orders, p=[0.8, 0.08, 0.07, 0.05]
    )
    status_at = ts + pd.to_timedelta(
        np.where(status == "completed", 0, rng.integers(1, 60 * 86400, n_orders)), unit="s"
    )
    amount = np.round(rng.gamma(2.0, 50.0, n_orders), 2)
    orders = pd.DataFrame(
        {
            "txn_id": pd.Series([f"T{i:06d}" for i in range(n_orders)], dtype="str"),
            "seller_id": pd.Series([ids[i] for i in seller], dtype="str"),
            "buyer_id": pd.Series([ids[i] for i in buyer], dtype="str"),
            "ts": pd.Series(ts, dtype="datetime64[us, UTC]"),
            "amount": amount,
            "currency": pd.Series(["USD"] * n_orders, dtype="str"),
            "amount_base": amount,
            "status": pd.Series(status, dtype="str"),
            "status_at": pd.Series(status_at, dtype="datetime64[us, UTC]"),
            "category": pd.Series(
                [None if i % 9 == 0 else f"cat{i % 3}" for i in range(n_orders)], dtype="str"
            ),
        }
    )[ORDER_COLUMNS]
    out_rows = []
    for as_of in (pd.Timestamp("2024-07-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")):
        for i, b in enumerate(ids):
            if registered[i] < as_of and i % 3 != 0:
                out_rows.append((b, as_of, int(rng.integers(0, 2)), None if i % 4 == 0 else 0))
    outcomes = pd.DataFrame(out_rows, columns=OUTCOME_COLUMNS)
    outcomes["business_id"] = outcomes["business_id"].astype("str")
    outcomes["as_of"] = outcomes["as_of"].astype("datetime64[us, UTC]")
    outcomes["defaulted"] = outcomes["defaulted"].astype("Int8")
    outcomes["fraud"] = outcomes["fraud"].astype("Int8")
    return Frames(businesses, identifiers, orders, outcomes)


def expected_pairs(orders: pd.DataFrame) -> pd.DataFrame:
    """TRADES_WITH as the whole order set gives it at once (``graph.pairs.pair_totals``,
    timestamps as epoch microseconds): what Neo4j must hold after batch-by-batch loading."""
    out = pair_totals(orders).astype({"seller_id": object, "buyer_id": object})
    for column in ("first_ts", "last_ts"):
        out[column] = out[column].dt.as_unit("us").array.asi8
    for column in ("orders", "refunded", "disputed", "cancelled", "first_ts", "last_ts"):
        out[column] = out[column].astype("int64")
    return out.sort_values(["seller_id", "buyer_id"], ignore_index=True)


def normalise_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs read from Neo4j, sorted and typed like :func:`expected_pairs`."""
    out = pairs.astype({"seller_id": object, "buyer_id": object}).sort_values(
        ["seller_id", "buyer_id"], ignore_index=True
    )
    for column in ("orders", "refunded", "disputed", "cancelled", "first_ts", "last_ts"):
        out[column] = out[column].astype("int64")
    out["gmv"] = out["gmv"].astype(float)
    return out[
        [
            "seller_id",
            "buyer_id",
            "orders",
            "gmv",
            "refunded",
            "disputed",
            "cancelled",
            "first_ts",
            "last_ts",
        ]
    ]
