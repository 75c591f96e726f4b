"""The validated export as a lake holds it: partitioned Parquet, read without Neo4j.

``tradegraph validate EXPORT --lake ROOT`` (or :func:`write_lake`) writes the rows the validator
kept, already normalised, converted to the base currency and hashed, so validation, hashing and
versions happen once, in ``loaders``; pandas, Spark and researchers then read the same files.
Layout under ``ROOT``::

    _lake.json                          manifest: format, contract, key fingerprint, exports
    businesses/<export>.parquet         every kept version (``updated_at``)
    identifiers/<export>.parquet
    orders/month=YYYY-MM/<export>-*.parquet   by the month the order was placed
    outcomes/<export>.parquet
    credit_events/<export>.parquet

Every write adds one *export* (a sequence number in the manifest and a ``_export`` column); a
later export re-sending a row (same order, same business version, same outcome) supersedes
the earlier one. A lake holds one hashing key: writing with another is refused, since hashed
identifiers would no longer join. :func:`read_lake_snapshot` cuts the frames as of a score
date with the rules of :mod:`loaders.point_in_time`, the same frames ``graph.snapshot`` reads
from Neo4j.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_VERSION,
    CREDIT_EVENT_COLUMNS,
    HORIZON_DAYS,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
    OUTCOME_SPLIT,
    as_utc,
)
from loaders.labels import labels_at
from loaders.point_in_time import (
    identifiers_in_force,
    plain_businesses,
    status_as_of,
    versions_in_force,
)

logger = logging.getLogger(__name__)

MANIFEST = "_lake.json"
LAKE_FORMAT = "tradegraph-lake"
LAKE_VERSION = 1
EXPORT_COLUMN = "_export"
#: Per table, the columns that name one row: a later export's row replaces an earlier one's.
ROW_KEYS: dict[str, list[str]] = {
    "businesses": ["business_id", BUSINESS_VERSION],
    "identifiers": [*IDENTIFIER_COLUMNS, BUSINESS_VERSION],
    "orders": ["txn_id"],
    "outcomes": ["business_id", "as_of"],
    "credit_events": CREDIT_EVENT_COLUMNS,
}
TABLE_COLUMNS: dict[str, list[str]] = {
    "businesses": [*BUSINESS_COLUMNS, BUSINESS_VERSION],
    "identifiers": [*IDENTIFIER_COLUMNS, BUSINESS_VERSION],
    "orders": ORDER_COLUMNS,
    "outcomes": [*OUTCOME_COLUMNS, OUTCOME_SPLIT],
    "credit_events": CREDIT_EVENT_COLUMNS,
}
TIMESTAMPS = ("registered_at", BUSINESS_VERSION, "ts", "status_at", "as_of", "at")
_UTC = pa.timestamp("us", "UTC")
#: Every table's Parquet types, fixed so that an export whose column happens to be empty still
#: writes it typed (Spark reads the lake with these, ``loaders.spark.snapshot``).
ARROW_SCHEMAS: dict[str, pa.Schema] = {
    "businesses": pa.schema(
        [("business_id", pa.string()), ("kind", pa.string()), ("registered_at", _UTC),
         ("region", pa.string()), ("industry", pa.string()), ("employees", pa.int64()),
         ("declared_revenue", pa.float64()), (BUSINESS_VERSION, _UTC)]
    ),
    "identifiers": pa.schema(
        [("business_id", pa.string()), ("id_type", pa.string()), ("id_hash", pa.string()),
         (BUSINESS_VERSION, _UTC)]
    ),
    "orders": pa.schema(
        [("txn_id", pa.string()), ("seller_id", pa.string()), ("buyer_id", pa.string()),
         ("ts", _UTC), ("amount", pa.float64()), ("currency", pa.string()),
         ("amount_base", pa.float64()), ("status", pa.string()), ("status_at", _UTC),
         ("category", pa.string())]
    ),
    "outcomes": pa.schema(
        [("business_id", pa.string()), ("as_of", _UTC), ("defaulted", pa.int64()),
         ("fraud", pa.int64()), (OUTCOME_SPLIT, pa.string())]
    ),
    "credit_events": pa.schema(
        [("business_id", pa.string()), ("event", pa.string()), ("at", _UTC)]
    ),
}  # fmt: skip


class LakeError(ValueError):
    """The lake folder cannot be written or read as asked; the message says what to do."""


@dataclass(frozen=True)
class LakeSnapshot:
    """The contract frames as of ``as_of`` read from a lake (what ``graph.snapshot`` reads
    from Neo4j): businesses as they stood, their identifiers then, orders before ``as_of``
    with their status then, outcomes dated ``as_of`` and credit events before it."""

    as_of: pd.Timestamp
    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    orders: pd.DataFrame
    outcomes: pd.DataFrame
    credit_events: pd.DataFrame


def _manifest(root: Path) -> dict[str, Any] | None:
    path = root / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def _normalised(frame: pd.DataFrame, table: str, export: int) -> pd.DataFrame:
    out = frame.reindex(columns=TABLE_COLUMNS[table]).copy()
    for column in out.columns:
        if column in TIMESTAMPS:
            out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[us, UTC]")
    out[EXPORT_COLUMN] = export
    return out


def _arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """``frame`` (``_normalised``) as Arrow with the table's fixed types."""
    schema = ARROW_SCHEMAS[table].append(pa.field(EXPORT_COLUMN, pa.int64()))
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _write_table(root: Path, table: str, frame: pd.DataFrame, name: str) -> int:
    folder = root / table
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(_arrow(frame, table), folder / f"{name}.parquet")
    return len(frame)


def _write_orders(root: Path, frame: pd.DataFrame, name: str, chunk: int) -> int:
    if frame.empty:
        return 0
    months = frame["ts"].dt.strftime("%Y-%m")
    for month, part in frame.groupby(months.to_numpy(), sort=True):
        folder = root / "orders" / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(_arrow(part, "orders"), folder / f"{name}-{chunk:05d}.parquet")
    return len(frame)


def write_lake(
    reader: Any,
    root: Path,
    *,
    source: str,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write what ``reader`` (a :class:`loaders.validate.ExportReader`) keeps into the lake at
    ``root`` as one new export; returns the rows written per table."""
    businesses, identifiers = reader.businesses()
    rows = LakeRows(businesses, identifiers, reader.iter_orders(), reader.outcomes(),
                    reader.credit_events())  # fmt: skip
    return _write_all(LakeWriter.for_reader(root, reader, source=source), rows, progress)


@dataclass
class LakeRows:
    """Validated contract frames to write (orders as chunks, so an export streams)."""

    businesses: pd.DataFrame
    identifiers: pd.DataFrame
    order_chunks: Iterable[pd.DataFrame]
    outcomes: pd.DataFrame
    credit_events: pd.DataFrame | None = None


class LakeWriter:
    """One new export of the lake at ``root``, written table by table (orders chunk by chunk,
    so a load can stream them) and recorded in the manifest only by :meth:`commit`: an export
    interrupted half way is never read, and its files are replaced by the next write.

    Raises :class:`LakeError` when ``root`` holds a lake hashed with another key."""

    def __init__(self, root: Path, *, key_fingerprint: str, base_currency: str, source: str):
        self.root = Path(root)
        self.manifest = _manifest(self.root) or {
            "format": LAKE_FORMAT, "version": LAKE_VERSION, "contract": "v2",
            "key_fingerprint": key_fingerprint, "base_currency": base_currency, "exports": [],
        }  # fmt: skip
        if self.manifest["key_fingerprint"] != key_fingerprint:
            raise LakeError(
                f"{root} holds identifiers hashed with key {self.manifest['key_fingerprint']}, "
                f"not {key_fingerprint}: write this export to a new lake, or use the lake's key"
            )
        self.export = len(self.manifest["exports"]) + 1
        self.name = f"export-{self.export:05d}"
        self.source = source
        self.written: dict[str, int] = {table: 0 for table in TABLE_COLUMNS}
        self._chunks = 0
        for stale in self.root.rglob(f"{self.name}*.parquet"):  # an interrupted earlier try
            stale.unlink()

    def table(self, table: str, frame: pd.DataFrame | None) -> None:
        """Write a whole table (not orders)."""
        frame = frame if frame is not None else pd.DataFrame()
        rows = _normalised(frame, table, self.export)
        self.written[table] += _write_table(self.root, table, rows, self.name)

    def orders(self, chunk: pd.DataFrame) -> None:
        """Write one chunk of orders into its month partitions."""
        rows = _normalised(chunk, "orders", self.export)
        self.written["orders"] += _write_orders(self.root, rows, self.name, self._chunks)
        self._chunks += 1

    @classmethod
    def for_reader(cls, root: Path, reader: Any, *, source: str) -> LakeWriter:
        """A new export of what ``reader`` (a :class:`loaders.validate.ExportReader`) keeps,
        under its key and base currency."""
        return cls(
            root, key_fingerprint=reader.report.key_fingerprint,
            base_currency=reader.base_currency, source=source,
        )  # fmt: skip

    def tee(self, rows: LakeRows) -> Iterator[pd.DataFrame]:
        """Write ``rows``' tables now and yield its order chunks unchanged, each written to
        the lake as it passes, so a load can stream them through; commit after the load."""
        for table in ("businesses", "identifiers", "outcomes", "credit_events"):
            self.table(table, getattr(rows, table))
        for chunk in rows.order_chunks:
            self.orders(chunk)
            yield chunk

    def commit(self) -> dict[str, int]:
        """Record the export in the manifest; returns the rows written per table."""
        self.manifest["exports"].append(
            {"export": self.export, "source": self.source, "rows": self.written,
             "written_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
        )  # fmt: skip
        (self.root / MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n")
        logger.info("lake %s: export %d written (%s)", self.root, self.export, self.written)
        return dict(self.written)


def write_lake_frames(
    root: Path,
    rows: LakeRows,
    *,
    key_fingerprint: str,
    base_currency: str,
    source: str,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write validated ``rows`` into the lake at ``root`` as one new export; returns the rows
    written per table. Raises :class:`LakeError` when ``root`` holds a lake hashed with
    another key (``key_fingerprint``)."""
    writer = LakeWriter(
        root, key_fingerprint=key_fingerprint, base_currency=base_currency, source=source
    )
    return _write_all(writer, rows, progress)


def _write_all(
    writer: LakeWriter, rows: LakeRows, progress: Callable[[str, int], None] | None
) -> dict[str, int]:
    for _ in writer.tee(rows):
        if progress is not None:
            progress("orders", writer.written["orders"])
    return writer.commit()


def _read(root: Path, table: str, exports: list[int], filter_: Any = None) -> pd.DataFrame:
    """The rows of ``table`` written by the committed ``exports``, the latest export's where
    they repeat a row."""
    folder = root / table
    columns = TABLE_COLUMNS[table]
    if not folder.exists() or not any(folder.rglob("*.parquet")):
        return pd.DataFrame(columns=columns)
    committed = ds.field(EXPORT_COLUMN).isin(exports)
    if table == "orders":  # large: partition pruning and pushed-down filters
        dataset = ds.dataset(folder, format="parquet", partitioning="hive")
        arrow = dataset.to_table(filter=committed if filter_ is None else committed & filter_)
    else:  # small: one file per export; an export without rows has untyped (null) columns
        parts = [pq.read_table(f) for f in sorted(folder.glob("*.parquet"))]
        parts = [p for p in parts if p.num_rows] or parts[:1]
        arrow = pa.concat_tables(parts, promote_options="permissive").filter(committed)
    frame = arrow.to_pandas().reindex(columns=[*columns, EXPORT_COLUMN])
    keys = [k for k in ROW_KEYS[table] if k in frame.columns]
    frame = frame.sort_values(EXPORT_COLUMN, kind="stable")
    frame = frame[~frame.duplicated(subset=keys, keep="last")]
    return frame.drop(columns=EXPORT_COLUMN).reset_index(drop=True)


def lake_manifest(root: Path) -> dict[str, Any]:
    """The lake's manifest; raises :class:`LakeError` when ``root`` is not a lake."""
    manifest = _manifest(Path(root))
    if manifest is None or manifest.get("format") != LAKE_FORMAT:
        raise LakeError(
            f"{root} is not a tradegraph lake (no {MANIFEST}): write one with "
            "`tradegraph validate EXPORT --lake ROOT`"
        )
    return manifest


def read_lake_snapshot(
    root: Path, as_of: pd.Timestamp | str, *, horizon_days: int = HORIZON_DAYS
) -> LakeSnapshot:
    """The frames as of ``as_of`` (date or timestamp; naive means UTC), read from the lake.

    Only order partitions up to ``as_of``'s month are opened. Orders are kept only when both
    parties were registered before ``as_of``, and the labels are ``loaders.labels.labels_at``
    over ``horizon_days``, as in ``graph.snapshot``."""
    root = Path(root)
    exports = [e["export"] for e in lake_manifest(root)["exports"]]
    stamp = as_utc(as_of)
    in_force = versions_in_force(_read(root, "businesses", exports), stamp)
    businesses = plain_businesses(in_force)
    identifiers = identifiers_in_force(_read(root, "identifiers", exports), in_force)
    identifiers = identifiers.sort_values(IDENTIFIER_COLUMNS, ignore_index=True)
    month = stamp.strftime("%Y-%m")
    before = pa.scalar(stamp, pa.timestamp("us", "UTC"))
    placed = (ds.field("month") <= month) & (ds.field("ts") < before)
    orders = status_as_of(_read(root, "orders", exports, placed), stamp)[ORDER_COLUMNS]
    known = set(businesses["business_id"].tolist())
    orders = orders[orders["seller_id"].isin(known) & orders["buyer_id"].isin(known)]
    outcomes, events = labelled_cohort(
        _read(root, "outcomes", exports),
        _read(root, "credit_events", exports),
        businesses["business_id"],
        stamp,
        horizon_days=horizon_days,
    )
    return LakeSnapshot(
        as_of=stamp,
        businesses=businesses,
        identifiers=identifiers,
        orders=orders.sort_values("txn_id", ignore_index=True),
        outcomes=outcomes,
        credit_events=events,
    )


def labelled_cohort(
    outcomes: pd.DataFrame,
    every_event: pd.DataFrame,
    known: pd.Series,
    stamp: pd.Timestamp,
    *,
    horizon_days: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(outcomes, credit_events)`` of the snapshot at ``stamp`` from every row the lake
    holds: the labels :func:`loaders.labels.labels_at` gives that date, and the events before
    it of the ``known`` businesses (those in force then), in a fixed order."""
    outcomes = outcomes[outcomes["as_of"] == stamp]
    if outcomes[OUTCOME_SPLIT].isna().all():
        outcomes = outcomes.drop(columns=OUTCOME_SPLIT)
    labelled = labels_at(outcomes, every_event, stamp, horizon_days=horizon_days)
    events = every_event[(every_event["at"] < stamp) & every_event["business_id"].isin(known)]
    return (
        labelled.sort_values("business_id", ignore_index=True),
        events.sort_values(["at", "business_id", "event"], ignore_index=True),
    )
