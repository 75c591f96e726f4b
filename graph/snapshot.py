"""Point-in-time snapshots: what the graph knew strictly before a score date.

A snapshot reads only dated facts - businesses (``registered_at < as_of``), their
identifiers, orders (``ts < as_of``) with the status they had at ``as_of``, and outcomes with
``as_of == D`` as labels. It never reads ``TRADES_WITH``, analytics properties, scores or
clusters, which are all-time and would leak the future into features. Frames follow
``loaders.columns`` exactly, so ``loaders.features`` treats them like a synthetic export.
"""

from __future__ import annotations

from dataclasses import dataclass

import neo4j
import pandas as pd

from graph import cypher
from graph.session import read_frame
from loaders.columns import (
    BUSINESS_COLUMNS,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
    OUTCOME_SPLIT,
    as_utc,
)


@dataclass(frozen=True)
class Snapshot:
    """The four contract frames as of ``as_of`` (a UTC midnight timestamp)."""

    as_of: pd.Timestamp
    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    orders: pd.DataFrame
    outcomes: pd.DataFrame


def _from_micros(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.astype("Int64"), unit="us", utc=True).astype("datetime64[us, UTC]")


def _strings(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype("str")
    return frame


def _businesses(rows: pd.DataFrame) -> pd.DataFrame:
    out = _strings(rows.copy(), ["business_id", "kind", "region", "industry"])
    out["registered_at"] = _from_micros(out["registered_at"])
    out["employees"] = pd.array(out["employees"].tolist(), dtype="Int64")
    out["declared_revenue"] = pd.to_numeric(out["declared_revenue"]).astype("float64")
    return out[BUSINESS_COLUMNS].sort_values("business_id", ignore_index=True)


def _orders(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    out = _strings(rows.copy(), ["txn_id", "seller_id", "buyer_id", "currency", "status"])
    out["category"] = out["category"].astype("str")
    out["ts"] = _from_micros(out["ts"])
    out["status_at"] = _from_micros(out["status_at"])
    for column in ("amount", "amount_base"):
        out[column] = pd.to_numeric(out[column]).astype("float64")
    # Status as it stood at as_of: a change dated on or after as_of has not happened yet.
    not_yet = out["status_at"].isna() | (out["status_at"] >= as_of)
    out.loc[not_yet, "status"] = "completed"
    out.loc[not_yet, "status_at"] = out.loc[not_yet, "ts"]
    return out[ORDER_COLUMNS].sort_values("txn_id", ignore_index=True)


def _outcomes(rows: pd.DataFrame) -> pd.DataFrame:
    out = _strings(rows.copy(), ["business_id"])
    out["as_of"] = _from_micros(out["as_of"])
    for column in ("defaulted", "fraud"):
        out[column] = pd.array(out[column].tolist(), dtype="Int8")
    columns = list(OUTCOME_COLUMNS)
    if OUTCOME_SPLIT in out.columns and out[OUTCOME_SPLIT].notna().any():
        out[OUTCOME_SPLIT] = out[OUTCOME_SPLIT].astype("str")  # a dataset's own train/test
        columns.append(OUTCOME_SPLIT)
    return out[columns].sort_values("business_id", ignore_index=True)


def read_snapshot(
    driver: neo4j.Driver, as_of: pd.Timestamp | str, *, database: str | None = None
) -> Snapshot:
    """Read the snapshot as of ``as_of`` (date or timestamp; naive means UTC).

    Orders are kept only when both parties were registered before ``as_of`` as well, so every
    order's ends are in ``businesses``.
    """
    stamp = as_utc(as_of)
    micros = int(stamp.value) // 1000  # Timestamp.value is always nanoseconds
    businesses = _businesses(
        read_frame(driver, cypher.SNAPSHOT_BUSINESSES, database, as_of=micros).reindex(
            columns=BUSINESS_COLUMNS
        )
    )
    identifiers = _strings(
        read_frame(driver, cypher.SNAPSHOT_IDENTIFIERS, database, as_of=micros).reindex(
            columns=IDENTIFIER_COLUMNS
        ),
        IDENTIFIER_COLUMNS,
    ).sort_values(IDENTIFIER_COLUMNS, ignore_index=True)
    orders = _orders(
        read_frame(driver, cypher.SNAPSHOT_ORDERS, database, as_of=micros).reindex(
            columns=ORDER_COLUMNS
        ),
        stamp,
    )
    known = set(businesses["business_id"].tolist())
    orders = orders[orders["seller_id"].isin(known) & orders["buyer_id"].isin(known)]
    outcomes = _outcomes(
        read_frame(driver, cypher.SNAPSHOT_OUTCOMES, database, as_of=micros).reindex(
            columns=[*OUTCOME_COLUMNS, OUTCOME_SPLIT]
        )
    )
    return Snapshot(
        as_of=stamp,
        businesses=businesses,
        identifiers=identifiers,
        orders=orders.reset_index(drop=True),
        outcomes=outcomes,
    )
