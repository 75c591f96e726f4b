"""Point-in-time snapshots: what the graph knew strictly before a score date.

A snapshot reads only dated facts - businesses (``registered_at < as_of``) as they stood then
(for a business with versions, the version in force strictly before ``as_of``, and only the
identifiers that version carried), orders (``ts < as_of``) with the status they had at
``as_of``, credit events strictly before ``as_of`` (facts other businesses' features may
use), and as labels the outcomes with ``as_of == D`` merged with those the credit events give
for ``D`` once their record covers its window (``loaders.labels.labels_at``). It never reads
``TRADES_WITH``, analytics properties, scores or clusters, which are all-time and would leak
the future into features.
Frames follow ``loaders.columns`` exactly, so ``loaders.features`` treats them like a
synthetic export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import neo4j
import pandas as pd

from graph import cypher
from graph.session import epoch_micros, read_frame, read_nested_frame
from loaders.columns import (
    BUSINESS_COLUMNS,
    CREDIT_EVENT_COLUMNS,
    HORIZON_DAYS,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
    OUTCOME_SPLIT,
    as_utc,
)
from loaders.labels import StackedLabels, labels_at, stack_outcomes
from loaders.point_in_time import status_as_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The four contract frames as of ``as_of`` (a UTC midnight timestamp), and the credit
    events known before it (``CREDIT_EVENT_COLUMNS``)."""

    as_of: pd.Timestamp
    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    orders: pd.DataFrame
    outcomes: pd.DataFrame
    credit_events: pd.DataFrame = field(default_factory=lambda: _credit_events(pd.DataFrame()))


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
    return status_as_of(out, as_of)[ORDER_COLUMNS].sort_values("txn_id", ignore_index=True)


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


def _credit_events(rows: pd.DataFrame) -> pd.DataFrame:
    out = _strings(rows.reindex(columns=CREDIT_EVENT_COLUMNS), ["business_id", "event"])
    out["at"] = _from_micros(out["at"])
    return out.sort_values(["at", "business_id", "event"], ignore_index=True)


def _read_versioned(
    driver: neo4j.Driver,
    plain: str,
    versioned: str,
    columns: list[str],
    database: str | None,
    micros: int,
) -> pd.DataFrame:
    """Rows of businesses with one version (``plain``) and of the version in force of those
    with several (``versioned``), in ``columns``."""
    frames = [
        read_frame(driver, query, database, as_of=micros).reindex(columns=columns)
        for query in (plain, versioned)
    ]
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True)


def read_snapshot(
    driver: neo4j.Driver,
    as_of: pd.Timestamp | str,
    *,
    database: str | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> Snapshot:
    """Read the snapshot as of ``as_of`` (date or timestamp; naive means UTC).

    Orders are kept only when both parties were registered before ``as_of`` as well, so every
    order's ends are in ``businesses``. Its ``outcomes`` are the cohort's labels
    (``loaders.labels.labels_at``): outcome rows dated ``as_of`` and the labels the stored
    credit events give over ``horizon_days`` after it.
    """
    stamp = as_utc(as_of)
    micros = epoch_micros(stamp)
    businesses = _businesses(
        _read_versioned(
            driver,
            cypher.SNAPSHOT_BUSINESSES,
            cypher.SNAPSHOT_VERSIONED_BUSINESSES,
            BUSINESS_COLUMNS,
            database,
            micros,
        )
    )
    identifiers = _strings(
        _read_versioned(
            driver,
            cypher.SNAPSHOT_IDENTIFIERS,
            cypher.SNAPSHOT_VERSIONED_IDENTIFIERS,
            IDENTIFIER_COLUMNS,
            database,
            micros,
        ),
        IDENTIFIER_COLUMNS,
    ).sort_values(IDENTIFIER_COLUMNS, ignore_index=True)
    orders = _orders(
        read_nested_frame(
            driver, cypher.SNAPSHOT_ORDERS, database, nested="orders",
            fields=cypher.SNAPSHOT_ORDER_FIELDS, as_of=micros,
        ).reindex(columns=ORDER_COLUMNS),
        stamp,
    )  # fmt: skip
    known = set(businesses["business_id"].tolist())
    orders = orders[orders["seller_id"].isin(known) & orders["buyer_id"].isin(known)]
    every_event = read_credit_events(driver, database=database)
    outcomes = labels_at(
        _outcomes(
            read_frame(driver, cypher.SNAPSHOT_OUTCOMES, database, as_of=micros).reindex(
                columns=[*OUTCOME_COLUMNS, OUTCOME_SPLIT]
            )
        ),
        every_event,
        stamp,
        horizon_days=horizon_days,
    )
    events = every_event[every_event["at"] < stamp]
    logger.info(
        "snapshot as of %s: %d businesses, %d orders, %d outcomes",
        stamp.date(), len(businesses), len(orders), len(outcomes),
    )  # fmt: skip
    return Snapshot(
        as_of=stamp,
        businesses=businesses,
        identifiers=identifiers,
        orders=orders.reset_index(drop=True),
        outcomes=outcomes,
        credit_events=events[events["business_id"].isin(known)].reset_index(drop=True),
    )


def read_credit_events(driver: neo4j.Driver, *, database: str | None = None) -> pd.DataFrame:
    """Every stored credit event (``CREDIT_EVENT_COLUMNS``): the source of labels for any
    score date. Never a feature as such - a snapshot's ``credit_events`` are those."""
    return _credit_events(read_frame(driver, cypher.ALL_CREDIT_EVENTS, database))


def read_labels(
    driver: neo4j.Driver,
    dates: list[pd.Timestamp] | pd.DatetimeIndex,
    *,
    horizon_days: int = HORIZON_DAYS,
    database: str | None = None,
) -> StackedLabels:
    """Labels of stacked cohorts at ``dates``: stored outcomes rows at those dates merged
    with labels derived from the stored credit events (``loaders.labels.stack_outcomes``;
    rows where the two disagree come back in ``rejected``)."""
    stamps = [as_utc(d) for d in dates]
    micros = [epoch_micros(d) for d in stamps]
    rows = read_frame(driver, cypher.OUTCOMES_AT, database, dates=micros)
    outcomes = _outcomes(rows.reindex(columns=OUTCOME_COLUMNS)) if len(rows) else None
    events = read_credit_events(driver, database=database)
    return stack_outcomes(outcomes, events, stamps, horizon_days=horizon_days)
