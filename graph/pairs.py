"""Per-pair trade totals, the one definition behind ``TRADES_WITH``.

Both loading paths keep ``(:Business)-[:TRADES_WITH]->(:Business)`` per (seller, buyer): the
online load adds each batch's totals to the pair in the batch's transaction, the bulk import
sums all chunks before writing. Both read :func:`pair_totals`; the bulk import combines chunk
totals with :func:`combine_pair_totals`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

PAIR_KEYS: list[str] = ["seller_id", "buyer_id"]
#: Columns of a totals frame after the keys.
TOTAL_COLUMNS: list[str] = [
    "orders", "gmv", "refunded", "disputed", "cancelled", "first_ts", "last_ts",
]  # fmt: skip


def pair_totals(orders: pd.DataFrame) -> pd.DataFrame:
    """Per (seller, buyer) of ``orders`` (``loaders.columns.ORDER_COLUMNS``): the order count,
    GMV (``amount_base`` of orders not cancelled), refunded/disputed/cancelled counts and the
    first and last order time (UTC timestamps). One row per pair, in order of appearance."""
    status = orders["status"].astype(object)
    work = pd.DataFrame(
        {
            "seller_id": orders["seller_id"].astype(object),
            "buyer_id": orders["buyer_id"].astype(object),
            "gmv": orders["amount_base"].astype(float).where(status != "cancelled", 0.0),
            "refunded": (status == "refunded").astype("int64"),
            "disputed": (status == "disputed").astype("int64"),
            "cancelled": (status == "cancelled").astype("int64"),
            "ts": pd.to_datetime(orders["ts"], utc=True),
        }
    )
    return (
        work.groupby(PAIR_KEYS, sort=False)
        .agg(
            orders=("gmv", "size"),
            gmv=("gmv", "sum"),
            refunded=("refunded", "sum"),
            disputed=("disputed", "sum"),
            cancelled=("cancelled", "sum"),
            first_ts=("ts", "min"),
            last_ts=("ts", "max"),
        )
        .reset_index()
    )


def combine_pair_totals(partials: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Totals of several chunks' :func:`pair_totals` as if computed over all their orders."""
    if len(partials) == 1:
        return partials[0]
    return sum_pair_totals(pd.concat(partials, ignore_index=True))


def sum_pair_totals(totals: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of ``totals`` rows (several per pair allowed), summed."""
    return (
        totals.groupby(PAIR_KEYS, sort=False)
        .agg(
            orders=("orders", "sum"),
            gmv=("gmv", "sum"),
            refunded=("refunded", "sum"),
            disputed=("disputed", "sum"),
            cancelled=("cancelled", "sum"),
            first_ts=("first_ts", "min"),
            last_ts=("last_ts", "max"),
        )
        .reset_index()
    )
