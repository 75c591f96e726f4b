"""The point-in-time rules every snapshot obeys, whichever store it is read from.

A snapshot as of ``D`` holds what was known strictly before ``D``: a business as its version in
force then (the latest whose validity began before ``D``; the first version's validity begins
at the earlier of its ``updated_at`` and ``registered_at``), only the identifiers that version
carried, orders placed before ``D`` with the status they had at ``D`` (a status change dated on
or after ``D`` has not happened yet). Neo4j applies the version rule in Cypher
(``graph.cypher``'s snapshot queries) and the status rule here (``graph.snapshot``); the
Parquet lake (``loaders.lake``) applies both here.
"""

from __future__ import annotations

import pandas as pd

from loaders.columns import BUSINESS_COLUMNS, BUSINESS_VERSION, IDENTIFIER_COLUMNS


def status_as_of(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``orders`` with each status as it stood at ``as_of``: a change dated on or after it
    (or undated) reads as ``completed`` at the order's own time."""
    out = orders.copy()
    not_yet = out["status_at"].isna() | (out["status_at"] >= as_of)
    out.loc[not_yet, "status"] = "completed"
    out.loc[not_yet, "status_at"] = out.loc[not_yet, "ts"]
    return out


_PAIR_COLUMNS = ("seller_id", "buyer_id", "txn_id", "ts", "status", "status_at", "amount_base")


def trade_pairs(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    since: pd.Timestamp | None = None,
    first_txn: bool = False,
) -> pd.DataFrame:
    """One row per (seller_id, buyer_id) that traded in ``[since, as_of)``: ``gmv`` (the
    ``amount_base`` of orders not cancelled as of ``as_of``) and ``orders`` (their count), in
    the order of each pair's first order in ``orders``; with ``first_txn``, also that order's
    ``txn_id`` (what lets an engine that aggregates in parts restore the order). The graph's
    trade edges and the reasons' counterparties; every engine computes them with this."""
    placed_mask = orders["ts"] < as_of
    if since is not None:
        placed_mask &= orders["ts"] >= since
    # Only the columns read below: a filter copies every column it keeps.
    placed = orders.loc[placed_mask.to_numpy(), [c for c in _PAIR_COLUMNS if c in orders]]
    status = status_as_of(placed[["ts", "status", "status_at"]], as_of)["status"]
    placed = placed.assign(
        gmv=placed["amount_base"].astype("float64").where(status != "cancelled", 0.0)
    )
    totals = {"gmv": ("gmv", "sum"), "orders": ("txn_id", "size")}
    if first_txn:
        totals["first_txn"] = ("txn_id", "first")
    pairs = placed.groupby(["seller_id", "buyer_id"], sort=False, observed=True).agg(**totals)
    return pairs.reset_index()


def versions_in_force(versions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per business registered before ``as_of``: its version in force then.

    ``versions`` has ``BUSINESS_COLUMNS`` and ``updated_at`` (NaT = the registration date), one
    row per (business_id, updated_at)."""
    frame = versions.copy()
    stamp = frame[BUSINESS_VERSION].fillna(frame["registered_at"])
    frame["_stamp"] = stamp
    frame = frame.sort_values(["business_id", "_stamp"], kind="stable")
    first = ~frame["business_id"].duplicated()
    begins = frame["_stamp"].where(~first, frame[["_stamp", "registered_at"]].min(axis=1))
    frame = frame[begins < as_of]
    frame = frame[~frame["business_id"].duplicated(keep="last")]
    frame = frame[frame["registered_at"] < as_of]
    return frame.drop(columns="_stamp").reset_index(drop=True)


def identifiers_in_force(identifiers: pd.DataFrame, in_force: pd.DataFrame) -> pd.DataFrame:
    """The identifier rows the versions ``in_force`` carried: those naming that version's
    ``updated_at``, and those naming none (carried by every version of their business)."""
    if identifiers.empty:
        return identifiers.reindex(columns=IDENTIFIER_COLUMNS)
    held = in_force[["business_id"]].assign(_stamp=in_force[BUSINESS_VERSION])
    rows = identifiers.merge(held, on="business_id", how="inner")
    if BUSINESS_VERSION in identifiers.columns:
        named = rows[BUSINESS_VERSION]
        rows = rows[named.isna() | (named == rows["_stamp"])]
    return rows[IDENTIFIER_COLUMNS].drop_duplicates().reset_index(drop=True)


def plain_businesses(in_force: pd.DataFrame) -> pd.DataFrame:
    """The contract's business columns of versions in force, sorted by id."""
    return in_force[BUSINESS_COLUMNS].sort_values("business_id", ignore_index=True)
