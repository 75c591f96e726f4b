"""Validate an export row by row: keep good rows as contract frames, reject the rest with a reason.

:class:`ExportReader` checks every file's structure first (raising :class:`ExportStructureError`
before anything is written), then validates lazily, table by table, in chunks, so memory stays
bounded: what is held across chunks is the kept business ids, the fx rates and 8 bytes per
txn_id (a 64-bit hash, for duplicate detection). Each row gets at most one reason, the first
failing check in the order of :func:`loaders.contract.all_reasons` (per-column checks live in
:mod:`loaders.rowchecks`). Counts are of physical lines, so ``read = kept + rejected`` holds
even when a stray quote makes one record swallow others. Rejected rows are written (identifier
and personal-looking columns hashed, formula cells escaped) to
``<rejects_dir>/<table>.rejects.csv`` when the reader is closed.

Checks are vectorised pandas. Pandera's built-in checks ran the per-column rules at about the
same speed (~300k rows/s per 200k-row chunk on 2 cores, benchmarks/validate_benchmark.py; parsing
dominates), but cannot give each row one reason in a fixed priority nor express the cross-chunk
and cross-table checks (duplicates, unknown businesses, fx); pandera schemas
(``loaders.contract.*_SCHEMA``) check the output frames instead. Typical use::

    with ExportReader(path, key, rejects_dir=out) as reader:
        businesses, identifiers = reader.businesses()
        for orders in reader.iter_orders(): ...
        events = reader.credit_events()
    print(reader.report.render())
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from loaders import contract as c
from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_VERSION,
    CREDIT_EVENT_COLUMNS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_TYPES,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
)
from loaders.identifiers import hash_identifiers, hash_personal_column, key_fingerprint
from loaders.options import ExportOptions
from loaders.reader import (
    ExportStructureError,
    RawChunk,
    TableFile,
    check_structure,
    discover_tables,
    iter_chunks,
)
from loaders.rejects import RejectsWriter
from loaders.report import TableReport, ValidationReport
from loaders.rowchecks import TS_DTYPE, RowChecks, check_columns

logger = logging.getLogger(__name__)

__all__ = [
    "ExportReader",
    "ExportStructureError",
    "ValidationReport",
    "key_fingerprint",
    "validate_export",
]

ProgressCallback = Callable[[str, int], None]


class SeenHashes:
    """Set of 64-bit hashes held as a few sorted numpy runs (8 bytes per id, merged like a
    binary counter), for duplicate detection across chunks. A collision (about 3e-6 for 10M
    ids) would wrongly reject one row as a duplicate."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            position = np.searchsorted(run, hashes).clip(max=len(run) - 1)
            found |= run[position] == hashes
        return found

    def add(self, hashes: np.ndarray) -> None:
        if not len(hashes):
            return
        self._runs.append(np.unique(hashes))
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            last = self._runs.pop()
            self._runs[-1] = np.unique(np.concatenate([self._runs[-1], last]))


def _hash64(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _personal_columns(table: TableFile) -> list[str]:
    """The table's extra columns whose names look like personal data (hashed, never raw)."""
    return [name for name in table.extra_columns if c.looks_personal(name)]


def _extras(table: TableFile, frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """The table's extra columns of ``frame`` (as strings), personal-looking ones hashed."""
    out = frame[table.extra_columns].astype("str").fillna("")
    for name in _personal_columns(table):
        out[name] = hash_personal_column(frame[name], name, key)
    return out


def _expand_lines(lines: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(every physical line covered, whether it is the first line of its record)."""
    if not len(lines):
        return lines, np.zeros(0, dtype=bool)
    repeated = np.repeat(lines, spans)
    offsets = np.arange(len(repeated)) - np.repeat(np.cumsum(spans) - spans, spans)
    return repeated + offsets, offsets == 0


def _rejected_rows(
    table: TableFile,
    chunk: RawChunk,
    reasons: np.ndarray,
    key: bytes,
    phone_country_code: str | None = None,
) -> pd.DataFrame:
    """One row per rejected physical line: ``line, reason`` then the source columns as strings
    (identifier and personal-looking columns hashed) on a record's first line, blank on the
    lines a multi-line record goes on over; then the records with too many fields."""
    bad = reasons != ""
    rows = chunk.frame.loc[bad, table.columns]
    out = rows.astype("str").fillna("")
    for id_type in IDENTIFIER_TYPES:
        if table.spec.name == "businesses" and id_type in out.columns and len(out):
            hashed = hash_identifiers(
                rows[id_type], id_type, key, default_country_code=phone_country_code
            )
            out[id_type] = hashed.fillna("")
    for name in _personal_columns(table):
        out[name] = hash_personal_column(rows[name], name, key)
    out.insert(0, "reason", reasons[bad])
    out.insert(0, "line", chunk.lines[bad])
    spans = chunk.spans[bad]
    if (spans > 1).any():
        lines, first = _expand_lines(chunk.lines[bad], spans)
        expanded = out.iloc[np.repeat(np.arange(len(out)), spans)].reset_index(drop=True)
        expanded.loc[~first, table.columns] = ""
        expanded["line"] = lines
        out = expanded
    if len(chunk.bad_lines):
        lines, _ = _expand_lines(chunk.bad_lines, chunk.bad_spans)
        reason = np.repeat(_bad_record_reasons(chunk.bad_spans), chunk.bad_spans)
        ragged = pd.DataFrame({"line": lines, "reason": reason})
        out = pd.concat([out, ragged.reindex(columns=out.columns, fill_value="")])
    return out.sort_values("line", kind="stable")


def _bad_record_reasons(spans: np.ndarray) -> np.ndarray:
    """Reason of a record with too many fields: a stray quote if it covers several lines."""
    return np.where(spans > 1, c.QUOTED_LINE_BREAK, c.BAD_FIELD_COUNT).astype(object)


class ExportReader:
    """Reads and validates one export folder (see module docstring); use as a context manager,
    or call :meth:`close`, so rejects are published (on success) or discarded (on error).

    ``key`` is the identifier-hashing key; ``rejects_dir=None`` counts rejects without writing
    them. ``options``: the base currency and phone country code (:class:`ExportOptions`).
    ``chunk_rows`` bounds memory. ``on_progress(table, rows_read)`` is called per chunk.
    """

    def __init__(
        self,
        export_dir: Path,
        key: bytes,
        *,
        rejects_dir: Path | None,
        options: ExportOptions = ExportOptions(),
        chunk_rows: int = 200_000,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        if not key:
            raise ValueError("the identifier-hashing key is empty")
        self.export_dir = Path(export_dir)
        self._key = key
        self.phone_country_code = options.phone_country_code
        self.base_currency = options.base_currency
        self.chunk_rows = chunk_rows
        self._on_progress = on_progress
        self._files, ignored = discover_tables(self.export_dir)
        for table in self._files.values():
            check_structure(table)
        self.report = ValidationReport(
            export_dir=str(self.export_dir),
            key_fingerprint=key_fingerprint(key),
            base_currency=self.base_currency,
            ignored_files=ignored,
            rejects_dir=str(rejects_dir) if rejects_dir is not None else None,
        )
        for name in c.TABLES:
            if name in self._files:
                table = self._files[name]
                self.report.tables[name] = TableReport(
                    name,
                    table.path.name,
                    extra_columns=table.extra_columns,
                    hashed_columns=_personal_columns(table),
                )
        self._rejects = RejectsWriter(rejects_dir)
        self._rates: dict[str, float] | None = None
        self._businesses: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._known_ids: pd.Index | None = None
        self._closed = False

    # --- context management -------------------------------------------------------------
    def __enter__(self) -> ExportReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._rejects.discard()
            self._closed = True

    def close(self) -> None:
        """Publish the rejects files and report.json (if ``rejects_dir`` was given)."""
        if not self._closed:
            self._rejects.commit(self.report.as_dict())
            self._closed = True

    # --- tables -----------------------------------------------------------------------------
    def _chunks(self, name: str) -> Iterator[tuple[TableFile, RawChunk, TableReport]]:
        table = self._files[name]
        tally = self.report.tables[name]
        tally.reset()
        self._rejects.reset(name)
        for chunk in iter_chunks(table, self.chunk_rows):
            tally.read += int(chunk.spans.sum() + chunk.bad_spans.sum())
            yield table, chunk, tally
            if self._on_progress is not None:
                self._on_progress(name, tally.read)

    def _checks(self, chunk: RawChunk) -> RowChecks:
        """A chunk's checks, starting with the one every table shares: a record whose quoted
        value holds a line break (every physical line of it is rejected)."""
        checks = RowChecks(len(chunk.frame))
        checks.add(c.QUOTED_LINE_BREAK, chunk.spans > 1)
        return checks

    def _finish_chunk(
        self,
        table: TableFile,
        chunk: RawChunk,
        tally: TableReport,
        reasons: np.ndarray,
        flags: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Count (by physical line) and write the chunk's rejects; count the flags of kept
        rows; returns the kept-row mask."""
        kept = reasons == ""
        tally.kept += int(kept.sum())
        weights = Counter[str]()
        for reason, span in zip(reasons[~kept].tolist(), chunk.spans[~kept].tolist(), strict=True):
            weights[reason] += span
        bad_reasons = _bad_record_reasons(chunk.bad_spans)
        for reason, span in zip(bad_reasons.tolist(), chunk.bad_spans.tolist(), strict=True):
            weights[reason] += span
        tally.rejected += sum(weights.values())
        tally.rejected_by_reason.update(weights)
        for flag, mask in (flags or {}).items():
            if count := int((mask & kept).sum()):
                tally.flagged[flag] += count
        if weights:
            rejected = _rejected_rows(table, chunk, reasons, self._key, self.phone_country_code)
            self._rejects.write(table.spec.name, rejected)
        return kept

    def fx_rates(self) -> dict[str, float]:
        """Rate to the base currency per currency code; the base currency is always 1.0."""
        if self._rates is not None:
            return self._rates
        rates = {self.base_currency: 1.0}
        if "fx_rates" in self._files:
            seen: set[str] = set()
            for table, chunk, tally in self._chunks("fx_rates"):
                checks = self._checks(chunk)
                parsed = check_columns(chunk.frame, c.FX_RATES, checks, self.base_currency)
                currency, rate = parsed["currency"], parsed["rate_to_base"].to_numpy()
                checks.add(
                    c.DUPLICATE_CURRENCY, currency.duplicated().to_numpy() | currency.isin(seen)
                )
                checks.add(
                    c.BASE_RATE_NOT_ONE, (currency == self.base_currency).to_numpy() & (rate != 1.0)
                )
                kept = self._finish_chunk(table, chunk, tally, checks.reasons())
                seen.update(currency.tolist())
                rates.update(zip(currency[kept].tolist(), rate[kept].tolist(), strict=True))
        self._rates = rates
        return rates

    def businesses(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(businesses: BUSINESS_COLUMNS + ``updated_at`` + extra columns, identifiers:
        IDENTIFIER_COLUMNS) of the kept rows. One row per (business_id, updated_at) version, in
        file order; identifiers are hashed, one row per (business, identifier) over all its
        versions."""
        if self._businesses is not None:
            return self._businesses
        seen = SeenHashes()
        kept_frames: list[pd.DataFrame] = []
        identifier_frames: list[pd.DataFrame] = []
        for table, chunk, tally in self._chunks("businesses"):
            frame, flags = chunk.frame, dict[str, np.ndarray]()
            checks = self._checks(chunk)
            parsed = check_columns(frame, c.BUSINESSES, checks, self.base_currency, flags)
            version = parsed[BUSINESS_VERSION].fillna(parsed["registered_at"])
            parsed[BUSINESS_VERSION] = version
            ids = parsed["business_id"]
            usable = checks.ok
            pair = pd.DataFrame({"b": ids, "v": version})
            hashes = _hash64(pair)
            duplicate = pair.duplicated().to_numpy() | seen.contains(hashes)
            checks.add(c.DUPLICATE_BUSINESS_ID, usable & duplicate)
            seen.add(hashes[usable])
            kept = self._finish_chunk(table, chunk, tally, checks.reasons(), flags)
            columns = [*BUSINESS_COLUMNS, BUSINESS_VERSION]
            out = pd.DataFrame({name: parsed[name][kept] for name in columns})
            out["employees"] = out["employees"].astype("Int64")
            out["declared_revenue"] = out["declared_revenue"].astype("float64")
            out = pd.concat([out, _extras(table, frame.loc[kept], self._key)], axis=1)
            kept_frames.append(out)
            identifier_frames += self._identifiers(frame.loc[kept], out["business_id"])
        businesses = _concat(kept_frames, [*BUSINESS_COLUMNS, BUSINESS_VERSION])
        identifiers = _concat(identifier_frames, IDENTIFIER_COLUMNS).astype("str")
        identifiers = identifiers.drop_duplicates(ignore_index=True)
        self._businesses = (businesses, identifiers)
        self._known_ids = pd.Index(businesses["business_id"].unique())
        return self._businesses

    def _identifiers(self, kept: pd.DataFrame, ids: pd.Series) -> list[pd.DataFrame]:
        """Hashed identifier rows of kept businesses, one frame per identifier type present."""
        frames: list[pd.DataFrame] = []
        for id_type in IDENTIFIER_TYPES:
            if id_type in kept.columns:
                hashed = hash_identifiers(
                    kept[id_type], id_type, self._key, default_country_code=self.phone_country_code
                )
                present = hashed.notna()
                rows = {"business_id": ids[present], "id_type": id_type, "id_hash": hashed[present]}
                frames.append(pd.DataFrame(rows))
        return frames

    def _known(self) -> pd.Index:
        if self._known_ids is None:
            self.businesses()
        assert self._known_ids is not None
        return self._known_ids

    def iter_orders(self) -> Iterator[pd.DataFrame]:
        """Kept orders in chunks of at most ``chunk_rows``: ORDER_COLUMNS, then extra columns.
        Iterating again re-reads the file and resets the transactions counts and rejects.

        Each kept row's ``amount``, ``currency``, ``ts``, ``buyer_id`` and ``seller_id`` are
        what a graph loader compares with a stored order of the same ``txn_id``: the contract
        lets a re-sent order change only ``status``/``status_at`` (an amended order is rejected
        there, as only the store knows the original)."""
        known, rates = self._known(), self.fx_rates()
        rate_index = pd.Series(rates, dtype="float64")
        seen = SeenHashes()
        for table, chunk, tally in self._chunks("transactions"):
            frame, flags = chunk.frame, dict[str, np.ndarray]()
            checks = self._checks(chunk)
            parsed = check_columns(frame, c.TRANSACTIONS, checks, self.base_currency, flags)
            txn = parsed["txn_id"]
            usable = checks.ok
            hashes = _hash64(txn)
            duplicate = txn.duplicated().to_numpy() | seen.contains(hashes)
            seen.add(hashes[usable])
            rate = parsed["currency"].map(rate_index).to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                amount_base = parsed["amount"].to_numpy() * rate
            seller, buyer = parsed["seller_id"], parsed["buyer_id"]
            checks.add(c.DUPLICATE_TXN_ID, usable & duplicate)
            checks.add(c.NO_FX_RATE, np.isnan(rate))
            checks.add(c.BAD_AMOUNT_BASE, ~(np.isfinite(amount_base) & (amount_base > 0)))
            checks.add(c.UNKNOWN_SELLER, known.get_indexer(seller) < 0)
            checks.add(c.UNKNOWN_BUYER, known.get_indexer(buyer) < 0)
            checks.add(c.BUYER_IS_SELLER, (buyer == seller).to_numpy())
            kept = self._finish_chunk(table, chunk, tally, checks.reasons(), flags)
            ts = parsed["ts"]
            orders = pd.DataFrame(
                {
                    "txn_id": txn,
                    "seller_id": seller,
                    "buyer_id": buyer,
                    "ts": ts,
                    "amount": parsed["amount"],
                    "currency": parsed["currency"],
                    "amount_base": amount_base,
                    "status": parsed["status"],
                    "status_at": parsed["status_at"].fillna(ts),
                    "category": parsed["category"],
                }
            ).loc[kept, ORDER_COLUMNS]
            orders = pd.concat([orders, _extras(table, frame.loc[kept], self._key)], axis=1)
            yield orders.reset_index(drop=True)

    def outcomes(self) -> pd.DataFrame:
        """Kept outcomes: OUTCOME_COLUMNS (defaulted/fraud Int8, nullable) + extra columns.
        Empty (with those columns) when the export has no outcomes table."""
        if "outcomes" not in self._files:
            return _concat([], OUTCOME_COLUMNS)
        known = self._known()
        seen = SeenHashes()
        frames: list[pd.DataFrame] = []
        for table, chunk, tally in self._chunks("outcomes"):
            frame, flags = chunk.frame, dict[str, np.ndarray]()
            checks = self._checks(chunk)
            parsed = check_columns(frame, c.OUTCOMES, checks, self.base_currency, flags)
            no_label = parsed["defaulted"].isna() & parsed["fraud"].isna()
            checks.add(c.NO_LABEL, no_label.to_numpy())
            pair = pd.DataFrame({"b": parsed["business_id"], "d": parsed["as_of"]})
            hashes = _hash64(pair)
            valid_so_far = checks.ok
            checks.add(
                c.DUPLICATE_OUTCOME,
                valid_so_far & (pair.duplicated().to_numpy() | seen.contains(hashes)),
            )
            seen.add(hashes[valid_so_far])
            checks.add(c.UNKNOWN_BUSINESS, known.get_indexer(parsed["business_id"]) < 0)
            kept = self._finish_chunk(table, chunk, tally, checks.reasons(), flags)
            out = pd.DataFrame({name: parsed[name][kept] for name in OUTCOME_COLUMNS})
            for label in c.OUTCOMES.column_names[2:]:
                out[label] = out[label].astype("Int8")
            frames.append(pd.concat([out, _extras(table, frame.loc[kept], self._key)], axis=1))
        return _concat(frames, OUTCOME_COLUMNS)

    def credit_events(self) -> pd.DataFrame:
        """Kept credit events (contract v2): CREDIT_EVENT_COLUMNS (``at`` UTC) + extra columns,
        in file order. Empty (with those columns) when the export has no credit_events table."""
        if "credit_events" not in self._files:
            return _concat([], CREDIT_EVENT_COLUMNS)
        known = self._known()
        seen = SeenHashes()
        frames: list[pd.DataFrame] = []
        for table, chunk, tally in self._chunks("credit_events"):
            frame, flags = chunk.frame, dict[str, np.ndarray]()
            checks = self._checks(chunk)
            parsed = check_columns(frame, c.CREDIT_EVENTS, checks, self.base_currency, flags)
            triple = pd.DataFrame({name: parsed[name] for name in CREDIT_EVENT_COLUMNS})
            hashes = _hash64(triple)
            valid_so_far = checks.ok
            duplicate = triple.duplicated().to_numpy() | seen.contains(hashes)
            checks.add(c.DUPLICATE_CREDIT_EVENT, valid_so_far & duplicate)
            seen.add(hashes[valid_so_far])
            checks.add(c.UNKNOWN_BUSINESS, known.get_indexer(parsed["business_id"]) < 0)
            kept = self._finish_chunk(table, chunk, tally, checks.reasons(), flags)
            out = triple.loc[kept]
            frames.append(pd.concat([out, _extras(table, frame.loc[kept], self._key)], axis=1))
        return _concat(frames, CREDIT_EVENT_COLUMNS)

    def validate_all(self) -> ValidationReport:
        """Read every table once (orders discarded) and return the report."""
        self.fx_rates()
        self.businesses()
        for _ in self.iter_orders():
            pass
        self.outcomes()
        self.credit_events()
        return self.report


_EMPTY_DTYPES: dict[str, Any] = {
    "registered_at": TS_DTYPE,
    BUSINESS_VERSION: TS_DTYPE,
    "as_of": TS_DTYPE,
    "at": TS_DTYPE,
    "employees": "Int64",
    "declared_revenue": "float64",
    "defaulted": "Int8",
    "fraud": "Int8",
}


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({name: pd.Series(dtype=_EMPTY_DTYPES.get(name, "str")) for name in columns})


def validate_export(
    export_dir: Path,
    key: bytes,
    *,
    rejects_dir: Path | None,
    options: ExportOptions = ExportOptions(),
    chunk_rows: int = 200_000,
    on_progress: ProgressCallback | None = None,
    lake: Path | None = None,
) -> ValidationReport:
    """Validate every table of an export; rejects (if ``rejects_dir``) and report.json are
    written only if the whole run succeeds. With ``lake``, the kept rows are also written
    there as one new export of a Parquet lake (:mod:`loaders.lake`). Raises
    :class:`ExportStructureError` (and :class:`loaders.lake.LakeError`)."""
    with ExportReader(
        export_dir,
        key,
        rejects_dir=rejects_dir,
        options=options,
        chunk_rows=chunk_rows,
        on_progress=on_progress,
    ) as reader:
        if lake is None:
            report = reader.validate_all()
        else:
            from loaders.lake import write_lake

            reader.fx_rates()
            write_lake(reader, lake, source=str(export_dir))
            report = reader.report
    logger.info(
        "validated %s: %s rejected, reconciles=%s",
        export_dir, report.rejected, report.reconciles(),
    )  # fmt: skip
    return report
