"""Sessions and queries with the server's notifications (unknown-label warnings on an empty
database and the like) switched off, so logs show only what matters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import neo4j
import numpy as np
import pandas as pd


def epoch_micros(at: pd.Timestamp | Any) -> int:
    """Epoch microseconds of a timestamp or aware datetime (naive means UTC): how dates travel
    as parameters, turned back into ``DATETIME`` by ``cypher._dt``."""
    return int(pd.Timestamp(at).value) // 1000  # Timestamp.value is always nanoseconds


def session(
    driver: neo4j.Driver,
    database: str | None = None,
    *,
    max_retry_s: float | None = None,
    acquire_timeout_s: float | None = None,
) -> neo4j.Session:
    """A session on ``database`` (the server's default when ``None``) without notifications.

    ``max_retry_s`` bounds how long managed transactions retry (the driver's default is 30 s;
    0 for a best-effort write that must not hang when the server is gone) and
    ``acquire_timeout_s`` how long getting a connection, connecting included, may take."""
    config: dict[str, Any] = {}
    if max_retry_s is not None:
        config["max_transaction_retry_time"] = max_retry_s
    if acquire_timeout_s is not None:
        config["connection_acquisition_timeout"] = acquire_timeout_s
    return driver.session(
        database=database,
        notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF,
        **config,
    )


def run(driver: neo4j.Driver, query: str, database: str | None = None, **params: Any) -> None:
    """Run a write statement in its own auto-commit transaction (needed by
    ``CALL {...} IN TRANSACTIONS`` and schema statements)."""
    with session(driver, database) as s:
        s.run(query, params).consume()


def read_frame(
    driver: neo4j.Driver, query: str, database: str | None = None, **params: Any
) -> pd.DataFrame:
    """Run a read query and return its rows as a DataFrame (columns in RETURN order)."""

    def work(tx: neo4j.ManagedTransaction) -> pd.DataFrame:
        result = tx.run(query, params)
        keys = list(result.keys())
        return pd.DataFrame(result.values(), columns=keys)

    with session(driver, database) as s:
        return s.execute_read(work)


def read_nested_frame(
    driver: neo4j.Driver,
    query: str,
    database: str | None = None,
    *,
    nested: str,
    fields: Sequence[str],
    **params: Any,
) -> pd.DataFrame:
    """Rows a query returns as lists inside fewer records, one row per inner list.

    Each record holds scalar columns and, in ``nested``, a list of lists of ``fields``; the
    result has one row per inner list, the record's scalar columns repeated on each of its
    rows, then ``fields``. The driver spends about 25 µs of Python per record, so a query
    that would return a million rows returns them grouped (by seller, say) instead; inner
    lists keep nulls in place, which a ``collect`` per column would drop.
    """
    grouped = read_frame(driver, query, database, **params)
    if nested not in grouped:
        raise ValueError(f"the query returns no {nested!r} column to flatten")
    sizes = grouped[nested].map(len).to_numpy(dtype=np.int64)
    flat = pd.DataFrame([row for rows in grouped[nested] for row in rows], columns=list(fields))
    for position, column in enumerate(c for c in grouped.columns if c != nested):
        flat.insert(position, column, np.repeat(grouped[column].to_numpy(), sizes))
    return flat


def write(
    driver: neo4j.Driver, query: str, database: str | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Run a statement in a retried write transaction; return its records as dicts."""

    def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
        return tx.run(query, params).data()

    with session(driver, database) as s:
        return s.execute_write(work)


def write_work(
    driver: neo4j.Driver, database: str | None, work: Callable[..., Any], *args: Any
) -> Any:
    """Run ``work(tx, *args)`` in a retried write transaction and return what it returns."""
    with session(driver, database) as s:
        return s.execute_write(work, *args)
