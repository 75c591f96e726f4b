"""Online, exact, idempotent, incremental and resumable loading of validated frames.

Each batch runs in ONE explicit write transaction (``execute_write``, retried on transient
errors): it looks up which keys already exist, creates only what is new, updates what
changed, skips what is unchanged, and - for orders - applies the per-pair deltas to
``TRADES_WITH`` in the same transaction. A crash mid-batch therefore rolls back both the
orders and their pair totals, and a re-run finds the committed batches unchanged and
finishes the rest: the final counts and aggregates equal those of a clean load.

Frames follow ``loaders.columns``; timestamps travel to Neo4j as integer microseconds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import neo4j
import pandas as pd

from graph import cypher
from graph.pairs import pair_totals
from graph.schema import check_key_fingerprint, ensure_schema
from graph.session import read_frame, run, write
from graph.session import write_work as _write
from loaders.columns import (
    BUSINESS_COLUMNS,
    HUB_THRESHOLD,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
    OUTCOME_SPLIT,
)
from loaders.options import ExportOptions

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from loaders.validate import ExportReader

#: Called with (table name, rows just processed) after every batch.
ProgressCallback = Callable[[str, int], None]

TABLES = ("businesses", "identifiers", "orders", "outcomes", "credit_events")
_ORDER_VALUE_COLUMNS = [
    "ts",
    "amount",
    "currency",
    "amount_base",
    "status",
    "status_at",
    "category",
]
_BUSINESS_VALUE_COLUMNS = BUSINESS_COLUMNS[1:]
#: What a re-sent order may not change (contract v2): such a row is an amended order.
_FIXED_ORDER_COLUMNS = ["seller_id", "buyer_id", "ts", "amount", "currency"]
#: Reject reason of a re-sent order that changes one of :data:`_FIXED_ORDER_COLUMNS`.
AMENDED_ORDER = "amended_order"
#: The load's own rejects file (beside the validator's), for rows only the graph can judge.
AMENDED_REJECTS_FILE = "transactions.amended.rejects.csv"


class LoadError(RuntimeError):
    """The data could not be loaded as given (e.g. an order whose parties are not loaded)."""


@dataclass
class TableCounts:
    """Reconciliation of one table: ``read == inserted + updated + unchanged + rejected``."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: TableCounts) -> None:
        self.read += other.read
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected

    @property
    def reconciles(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.rejected


@dataclass
class LoadResult:
    """What a load did, per table, and how long it took."""

    run_id: str
    tables: dict[str, TableCounts] = field(
        default_factory=lambda: {t: TableCounts() for t in TABLES}
    )
    seconds: float = 0.0
    order_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    #: Re-sent orders refused as :data:`AMENDED_ORDER` (the stored order stays), with a
    #: ``changed`` column naming what they tried to change.
    amended: list[pd.DataFrame] = field(default_factory=list)

    @property
    def amended_orders(self) -> pd.DataFrame:
        """Every amended order of the run in one frame (empty with the order columns)."""
        if not self.amended:
            return pd.DataFrame(columns=[*ORDER_COLUMNS, "changed"])
        return pd.concat(self.amended, ignore_index=True)

    @property
    def total(self) -> TableCounts:
        total = TableCounts()
        for counts in self.tables.values():
            total.add(counts)
        return total

    @property
    def orders_per_second(self) -> float:
        done = self.tables["orders"].read - self.tables["orders"].rejected
        return done / self.order_seconds if self.order_seconds > 0 else 0.0

    @property
    def reconciles(self) -> bool:
        return all(c.reconciles for c in self.tables.values())

    def as_properties(self) -> dict[str, int]:
        """Flat counts for the ``(:LoadRun)`` node: totals plus ``<table>_<count>``."""
        props: dict[str, int] = {}
        for name, counts in [("", self.total), *self.tables.items()]:
            prefix = f"{name}_" if name else ""
            for key in ("read", "inserted", "updated", "unchanged", "rejected"):
                props[prefix + key] = getattr(counts, key)
        props["orders_amended"] = sum(len(frame) for frame in self.amended)
        return props


# --- frame -> parameter conversion --------------------------------------------------------


def _micros(series: pd.Series) -> list[int | None]:
    """UTC timestamps as integer epoch microseconds (``None`` for NaT)."""
    values = pd.to_datetime(series, utc=True).dt.as_unit("us")
    ints = values.array.asi8.tolist()
    if not values.isna().any():
        return ints
    return [None if missing else v for v, missing in zip(ints, values.isna().tolist(), strict=True)]


def _plain(series: pd.Series) -> list[Any]:
    """Column values as plain Python objects, missing values as ``None``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return _micros(series)
    if pd.api.types.is_float_dtype(series) and not isinstance(
        series.dtype, pd.api.extensions.ExtensionDtype
    ):
        values = series.tolist()
        return [None if v != v else v for v in values] if series.isna().any() else values
    return series.astype(object).where(series.notna(), None).tolist()


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as parameter maps, one dict per row."""
    lists = [_plain(frame[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


def _as_comparable(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Same columns as plain objects (timestamps as micros) so frames from pandas and from
    Neo4j compare equal exactly when the stored values are equal."""
    return pd.DataFrame(
        {c: pd.Series(_plain(frame[c]), index=frame.index, dtype=object) for c in columns}
    )


def _changed(incoming: pd.DataFrame, stored: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Boolean per row: does any of ``columns`` differ (nulls equal nulls)?"""
    left = _as_comparable(incoming, columns)
    right = _as_comparable(stored, columns)
    differs = pd.Series(False, index=incoming.index)
    for column in columns:
        a, b = left[column], right[column]
        same = [
            (x is None and y is None) or (x is not None and y is not None and x == y)
            for x, y in zip(a.tolist(), b.tolist(), strict=True)
        ]
        differs |= ~pd.Series(same, index=incoming.index, dtype=bool)
    return differs


def _fetch(tx: neo4j.ManagedTransaction, query: str, **params: Any) -> pd.DataFrame:
    result = tx.run(query, **params)
    keys = list(result.keys())
    return pd.DataFrame(result.values(), columns=keys)


def _batches(frames: Iterable[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """Re-chunk a stream of frames into frames of exactly ``size`` rows (the last may be less)."""
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    for frame in frames:
        start = 0
        while start < len(frame):
            take = min(size - pending_rows, len(frame) - start)
            pending.append(frame.iloc[start : start + take])
            pending_rows += take
            start += take
            if pending_rows == size:
                yield pd.concat(pending, ignore_index=True)
                pending, pending_rows = [], 0
    if pending_rows:
        yield pd.concat(pending, ignore_index=True)


# --- per-table batch transactions ---------------------------------------------------------


def _business_batch(tx: neo4j.ManagedTransaction, batch: pd.DataFrame) -> TableCounts:
    ids = batch["business_id"].tolist()
    stored = _fetch(tx, cypher.EXISTING_BUSINESSES, ids=ids).set_index("business_id")
    exists = batch["business_id"].isin(stored.index)
    new = batch[~exists]
    old = batch[exists]
    changed = pd.Series(False, index=old.index)
    if len(old):
        stored_rows = stored.loc[old["business_id"]].reset_index(drop=True)
        stored_rows.index = old.index
        stored_rows["registered_at"] = pd.to_datetime(
            stored_rows["registered_at"], unit="us", utc=True
        )
        changed = _changed(old, stored_rows, _BUSINESS_VALUE_COLUMNS)
    write = pd.concat([new, old[changed]])
    if len(write):
        tx.run(cypher.UPSERT_BUSINESSES, rows=_records(write, BUSINESS_COLUMNS)).consume()
    if "updated_at" in batch.columns:  # the one version's date (graph.history)
        rows = _records(batch, ["business_id", "updated_at"])
        tx.run(cypher.SET_UPDATED_AT, rows=rows).consume()
    return TableCounts(
        read=len(batch),
        inserted=len(new),
        updated=int(changed.sum()),
        unchanged=int((~changed).sum()),
    )


def _identifier_batch(tx: neo4j.ManagedTransaction, batch: pd.DataFrame) -> TableCounts:
    ids = batch["business_id"].unique().tolist()
    stored = _fetch(tx, cypher.EXISTING_IDENTIFIER_LINKS, ids=ids)
    stored_keys = (
        set(map(tuple, stored[IDENTIFIER_COLUMNS].itertuples(index=False)))
        if len(stored)
        else set()
    )
    keys = list(map(tuple, batch[IDENTIFIER_COLUMNS].itertuples(index=False)))
    is_new = [k not in stored_keys for k in keys]
    new = batch[is_new]
    if len(new):
        linked = tx.run(cypher.LINK_IDENTIFIERS, rows=_records(new, IDENTIFIER_COLUMNS)).single()
        if linked is None or linked["linked"] != len(new):
            raise LoadError(
                "identifiers refer to businesses that are not loaded; validate the export first"
            )
    return TableCounts(read=len(batch), inserted=len(new), unchanged=len(batch) - len(new))


def _pair_deltas(orders: pd.DataFrame) -> list[dict[str, Any]]:
    """The batch's :func:`graph.pairs.pair_totals` as rows for ``ADD_PAIR_DELTAS`` (times in
    epoch microseconds), so each pair is written once per batch."""
    grouped = pair_totals(orders)
    for column in ("first_ts", "last_ts"):
        grouped[column] = grouped[column].dt.as_unit("us").array.asi8
    # Buyer order, like the orders: two loads into one database lock shared buyers in the
    # same order, so they wait for each other instead of deadlocking.
    grouped = grouped.sort_values(["buyer_id", "seller_id"])
    columns = list(grouped.columns)
    lists = [grouped[c].tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


@dataclass
class _OrderBatchOutcome:
    counts: TableCounts
    problems: list[str]
    amended: pd.DataFrame | None = None


def _amendments(old: pd.DataFrame, stored_rows: pd.DataFrame) -> pd.Series:
    """Per re-sent order, the fixed columns it changes (``"amount;ts"``), ``""`` if none."""
    changed = pd.Series("", index=old.index, dtype=object)
    for column in _FIXED_ORDER_COLUMNS:
        differs = _changed(old, stored_rows, [column])
        changed[differs] = changed[differs].map(lambda s, c=column: f"{s};{c}" if s else c)
    return changed


def _order_batch(tx: neo4j.ManagedTransaction, batch: pd.DataFrame) -> _OrderBatchOutcome:
    stored = _fetch(tx, cypher.EXISTING_ORDERS, ids=batch["txn_id"].tolist())
    counts = TableCounts(read=len(batch))
    problems: list[str] = []
    amended_rows: pd.DataFrame | None = None
    if len(stored):
        stored = stored.set_index("txn_id")
        exists = batch["txn_id"].isin(stored.index)
    else:
        exists = pd.Series(False, index=batch.index)
    new = batch[~exists]
    old = batch[exists]
    update = old.iloc[0:0]
    if len(old):
        stored_rows = stored.loc[old["txn_id"]].reset_index()
        stored_rows.index = old.index
        for column in ("ts", "status_at"):
            stored_rows[column] = pd.to_datetime(stored_rows[column], unit="us", utc=True)
        changes = _amendments(old, stored_rows)
        amended = changes != ""
        if amended.any():
            counts.rejected += int(amended.sum())
            amended_rows = old[amended].assign(changed=changes[amended])
            problems.extend(
                f"order {t}: re-sent with another {c.replace(';', ', ')} than stored; "
                f"rejected as {AMENDED_ORDER} (the stored order stays)"
                for t, c in zip(
                    amended_rows["txn_id"].tolist()[:20],
                    amended_rows["changed"].tolist()[:20],
                    strict=True,
                )
            )
        kept = old[~amended]
        changed = _changed(kept, stored_rows[~amended], _ORDER_VALUE_COLUMNS)
        update = kept[changed]
        counts.updated = len(update)
        counts.unchanged = int((~changed).sum())
    if len(new):
        by_buyer = new.sort_values("buyer_id", kind="stable")
        created = tx.run(cypher.CREATE_ORDERS, rows=_records(by_buyer, ORDER_COLUMNS)).single()
        if created is None or created["created"] != len(new):
            raise LoadError(
                "some orders name a seller or buyer that is not loaded; load the export's "
                "businesses first (validate the export to find the rows)"
            )
        counts.inserted = len(new)
    recompute: set[tuple[str, str]] = set()
    if len(update):
        tx.run(cypher.UPDATE_ORDERS, rows=_records(update, ORDER_COLUMNS)).consume()
        recompute = set(zip(update["seller_id"].tolist(), update["buyer_id"].tolist(), strict=True))
    if len(new):
        pairs = _pair_deltas(new)
        if recompute:
            pairs = [p for p in pairs if (p["seller_id"], p["buyer_id"]) not in recompute]
        if pairs:
            tx.run(cypher.ADD_PAIR_DELTAS, pairs=pairs).consume()
    if recompute:
        rows = [{"seller_id": s, "buyer_id": b} for s, b in sorted(recompute)]
        tx.run(cypher.RECOMPUTE_PAIRS, pairs=rows).consume()
    return _OrderBatchOutcome(counts=counts, problems=problems, amended=amended_rows)


def _outcome_batch(tx: neo4j.ManagedTransaction, batch: pd.DataFrame, source: str) -> TableCounts:
    if OUTCOME_SPLIT not in batch.columns:
        batch = batch.assign(**{OUTCOME_SPLIT: None})
    columns = [*OUTCOME_COLUMNS, OUTCOME_SPLIT]
    stored = _fetch(tx, cypher.EXISTING_OUTCOMES, ids=batch["business_id"].unique().tolist())
    incoming = batch.assign(_as_of_us=_micros(batch["as_of"]))
    if len(stored):
        merged = incoming.merge(
            stored.rename(
                columns={"as_of": "_as_of_us", "defaulted": "_d", "fraud": "_f", "split": "_s"}
            ),
            on=["business_id", "_as_of_us"],
            how="left",
            indicator=True,
        )
        merged.index = incoming.index
        exists = merged["_merge"] == "both"
        stored_values = merged[["_d", "_f", "_s"]].rename(
            columns={"_d": "defaulted", "_f": "fraud", "_s": OUTCOME_SPLIT}
        )
        changed = exists & _changed(incoming, stored_values, ["defaulted", "fraud", OUTCOME_SPLIT])
    else:
        exists = pd.Series(False, index=batch.index)
        changed = exists
    write = batch[~exists | changed]
    if len(write):
        written = tx.run(
            cypher.UPSERT_OUTCOMES, rows=_records(write, columns), source=source
        ).single()
        if written is None or written["written"] != len(write):
            raise LoadError(
                "outcomes refer to businesses that are not loaded; validate the export first"
            )
    return TableCounts(
        read=len(batch),
        inserted=int((~exists).sum()),
        updated=int(changed.sum()),
        unchanged=int((exists & ~changed).sum()),
    )


# --- public API ---------------------------------------------------------------------------


def load_frames(
    driver: neo4j.Driver,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    order_chunks: Iterable[pd.DataFrame],
    outcomes: pd.DataFrame | None,
    *,
    key_fingerprint: str,
    batch_size: int = 10_000,
    hub_threshold: int = HUB_THRESHOLD,
    progress: ProgressCallback | None = None,
    database: str | None = None,
    export: str = "",
    source: str = "export",
    rejected: Callable[[], dict[str, int]] | None = None,
    credit_events: pd.DataFrame | None = None,
) -> LoadResult:
    """Load validated frames (``loaders.columns`` contracts) into Neo4j, exactly.

    Businesses first, then identifiers, orders (streamed, re-chunked to ``batch_size``) and
    outcomes; then identifiers shared by more than ``hub_threshold`` businesses are marked
    ``hub``. ``rejected`` returns the rows the validator rejected, per table; it is called
    after every table is loaded (the validator knows its rejects only once it has streamed
    the orders), so the ``(:LoadRun)`` record reconciles against what was read from the
    export. Safe to re-run after any failure. Raises ``KeyFingerprintMismatchError`` before
    writing if the database holds another key's hashes.

    Businesses (and identifiers) may carry contract v2's ``updated_at``: a business with
    several versions is loaded as versions (``graph.history``). ``credit_events``
    (``CREDIT_EVENT_COLUMNS``) are loaded after the outcomes.
    """
    result = LoadResult(run_id=str(uuid.uuid4()))
    started = time.perf_counter()
    ensure_schema(driver, key_fingerprint, database=database)
    write(driver, cypher.START_LOAD_RUN, database, run_id=result.run_id, export=export)
    status = "failed"
    try:
        businesses, identifiers = _load_versions(
            driver, businesses, identifiers, result, batch_size, progress, database
        )
        _load_tables(
            driver,
            businesses,
            identifiers,
            order_chunks,
            outcomes,
            result,
            batch_size=batch_size,
            progress=progress,
            database=database,
            source=source,
        )
        _load_credit_events(driver, credit_events, result, batch_size, progress, database)
        run(driver, cypher.MARK_IDENTIFIER_HUBS, database, hub_threshold=hub_threshold)
        for table, count in (rejected() if rejected else {}).items():
            result.tables[table].read += count
            result.tables[table].rejected += count
        status = "completed"
    finally:
        result.seconds = time.perf_counter() - started
        write(
            driver,
            cypher.FINISH_LOAD_RUN,
            database,
            run_id=result.run_id,
            counts=result.as_properties(),
            status=status,
        )
        logger.info("load %s %s in %.1fs: %s", result.run_id, status, result.seconds,
                    result.as_properties())  # fmt: skip
    return result


def _reporter(result: LoadResult, progress: ProgressCallback | None) -> Callable[..., None]:
    def report(table: str, counts: TableCounts) -> None:
        result.tables[table].add(counts)
        if progress is not None:
            progress(table, counts.read)

    return report


def _load_versions(
    driver: neo4j.Driver,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    result: LoadResult,
    batch_size: int,
    progress: ProgressCallback | None,
    database: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the businesses that have (or now get) several versions; return the plain rest."""
    from graph import history  # builds on this module's helpers

    plain_b, plain_i, versioned_b, versioned_i = history.split_versioned(
        driver, businesses, identifiers, database=database
    )
    history.load_versions(
        driver,
        versioned_b,
        versioned_i,
        _reporter(result, progress),
        batch_size=batch_size,
        database=database,
    )
    return plain_b, plain_i


def _load_credit_events(
    driver: neo4j.Driver,
    events: pd.DataFrame | None,
    result: LoadResult,
    batch_size: int,
    progress: ProgressCallback | None,
    database: str | None,
) -> None:
    from graph import history

    history.load_credit_events(
        driver, events, _reporter(result, progress), batch_size=batch_size, database=database
    )


def _load_tables(
    driver: neo4j.Driver,
    businesses: pd.DataFrame,
    identifiers: pd.DataFrame,
    order_chunks: Iterable[pd.DataFrame],
    outcomes: pd.DataFrame | None,
    result: LoadResult,
    *,
    batch_size: int,
    progress: ProgressCallback | None,
    database: str | None,
    source: str,
) -> None:
    def report(table: str, counts: TableCounts) -> None:
        result.tables[table].add(counts)
        if progress is not None:
            progress(table, counts.read)

    for batch in _batches([businesses], batch_size):
        report("businesses", _write(driver, database, _business_batch, batch))
    for batch in _batches([identifiers], batch_size):
        report("identifiers", _write(driver, database, _identifier_batch, batch))
    order_started = time.perf_counter()
    for batch in _batches(order_chunks, batch_size):
        if batch["txn_id"].duplicated().any():
            raise LoadError("an order batch repeats a txn_id; validate the export first")
        outcome: _OrderBatchOutcome = _write(driver, database, _order_batch, batch)
        result.problems.extend(outcome.problems)
        if outcome.amended is not None:
            result.amended.append(outcome.amended)
        report("orders", outcome.counts)
    result.order_seconds = time.perf_counter() - order_started
    if outcomes is not None and len(outcomes):
        for batch in _batches([outcomes], batch_size):
            report("outcomes", _write(driver, database, _outcome_batch, batch, source))


def load_export(
    driver: neo4j.Driver,
    export_dir: Path,
    key: bytes,
    *,
    rejects_dir: Path | None = None,
    batch_size: int = 10_000,
    hub_threshold: int = HUB_THRESHOLD,
    progress: ProgressCallback | None = None,
    database: str | None = None,
    options: ExportOptions = ExportOptions(),
    lake: Path | None = None,
) -> LoadResult:
    """Validate ``export_dir`` with ``loaders.validate.ExportReader`` and load what passes.

    Rows the validator rejects go to ``rejects_dir`` and are counted as ``rejected``;
    ``options`` (base currency, phone country code) go to the reader. With ``lake``, the same
    kept rows are also written there, in the same pass, as one export of a Parquet lake
    (``loaders.lake``), committed only when the load succeeds.
    """
    from graph.schema import key_fingerprint as fingerprint_of
    from loaders.validate import ExportReader

    fingerprint = fingerprint_of(key)
    check_key_fingerprint(driver, fingerprint, database=database)
    # The context manager publishes the rejects files and report.json only if the whole load
    # succeeds: a failed run leaves no half-written rejects beside a half-loaded graph.
    with ExportReader(
        export_dir,
        key,
        rejects_dir=rejects_dir,
        options=options,
    ) as reader:
        businesses, identifiers = reader.businesses()
        outcomes = reader.outcomes()
        # contract v2's optional table, once the validator reads it
        read_events = getattr(reader, "credit_events", None)
        events = read_events() if callable(read_events) else None
        orders: Iterable[pd.DataFrame] = reader.iter_orders()
        writer = None
        if lake is not None:
            from loaders.lake import LakeRows, LakeWriter

            writer = LakeWriter.for_reader(lake, reader, source=str(export_dir))
            orders = writer.tee(LakeRows(businesses, identifiers, orders, outcomes, events))
        result = load_frames(
            driver,
            businesses,
            identifiers,
            orders,
            outcomes,
            key_fingerprint=fingerprint,
            batch_size=batch_size,
            hub_threshold=hub_threshold,
            progress=progress,
            database=database,
            export=str(export_dir),
            rejected=lambda: _rejected_counts(reader),
            credit_events=events,
        )
        if writer is not None:
            writer.commit()
    if rejects_dir is not None:  # after the reader published (and cleared) its own files
        write_amended_rejects(Path(rejects_dir), result.amended_orders)
    return result


def write_amended_rejects(rejects_dir: Path, amended: pd.DataFrame) -> Path | None:
    """Write the run's amended orders to ``rejects_dir/transactions.amended.rejects.csv``.

    Columns: ``reason`` (:data:`AMENDED_ORDER`), ``changed`` (what the row tried to change),
    then the order as sent. Cells that a spreadsheet would run as a formula are quoted with
    a leading ``'``. Returns the path, or None when there is nothing to write.
    """
    path = Path(rejects_dir) / AMENDED_REJECTS_FILE
    if amended.empty:
        path.unlink(missing_ok=True)
        return None
    columns = [c for c in amended.columns if c not in ("changed", "amount_base")]
    out = pd.DataFrame({"reason": AMENDED_ORDER, "changed": amended["changed"].to_numpy()})
    for column in columns:
        values = amended[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").where(values.notna(), "")
        else:
            text = values.astype(object).where(values.notna(), "").astype(str)
        out[column] = text.map(_spreadsheet_safe).to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
    return path


def _spreadsheet_safe(text: str) -> str:
    """Quote a cell a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``, tab, CR)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


#: The validator reports by export file; the load by graph table.
_EXPORT_TO_LOAD_TABLE = {
    "businesses": "businesses",
    "transactions": "orders",
    "outcomes": "outcomes",
    "credit_events": "credit_events",
}


def _rejected_counts(reader: ExportReader) -> dict[str, int]:
    """Per-load-table rows the validator rejected (``transactions`` rows count as ``orders``)."""
    counts: dict[str, int] = {}
    for name, table in reader.report.tables.items():
        load_table = _EXPORT_TO_LOAD_TABLE.get(name)
        if load_table and table.rejected:
            counts[load_table] = counts.get(load_table, 0) + int(table.rejected)
    return counts


def graph_counts(driver: neo4j.Driver, *, database: str | None = None) -> dict[str, int]:
    """Node and relationship counts by kind (for checks and the CLI's summary)."""
    row = read_frame(driver, cypher.COUNT_GRAPH, database).iloc[0]
    return {k: int(v) for k, v in row.items()}


def read_pairs(driver: neo4j.Driver, *, database: str | None = None) -> pd.DataFrame:
    """All ``TRADES_WITH`` aggregates as a frame (timestamps as epoch microseconds)."""
    return read_frame(driver, cypher.ALL_PAIRS, database)
