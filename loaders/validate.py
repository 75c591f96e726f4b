"""Validate an export row by row: keep good rows as contract frames, reject the rest with a reason.

:class:`ExportReader` checks every file's structure first (raising :class:`ExportStructureError`
before anything is written), then validates lazily, table by table, in chunks, so memory stays
bounded: what is held across chunks is the kept business ids, the fx rates and 8 bytes per
txn_id (a 64-bit hash, for duplicate detection). Each row gets at most one reason, the first
failing check in the order of :func:`loaders.contract.all_reasons`. Rejected rows are written
(identifier columns hashed) to ``<rejects_dir>/<table>.rejects.csv`` when the reader is closed.

Checks are vectorised pandas. Pandera's built-in checks ran the per-column rules at about the
same speed (~300k rows/s per 200k-row chunk on 2 cores, benchmarks/validate_benchmark.py; parsing
dominates), but cannot give each row one reason in a fixed priority nor express the cross-chunk
and cross-table checks (duplicates, unknown businesses, fx); pandera schemas
(``loaders.contract.*_SCHEMA``) check the output frames instead. Typical use::

    with ExportReader(path, key, rejects_dir=out) as reader:
        businesses, identifiers = reader.businesses()
        for orders in reader.iter_orders(): ...
    print(reader.report.render())
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from loaders import contract as c
from loaders.columns import (
    BUSINESS_COLUMNS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_TYPES,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
)
from loaders.identifiers import hash_identifiers, key_fingerprint
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

__all__ = [
    "ExportReader",
    "ExportStructureError",
    "ValidationReport",
    "key_fingerprint",
    "validate_export",
]

TS_DTYPE = "datetime64[us, UTC]"
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


@dataclass
class _Checked:
    """A chunk after per-row checks: parsed columns, each row's reason (``""`` = kept)."""

    parsed: dict[str, pd.Series]
    reasons: np.ndarray


class _RowChecks:
    """Collects (reason, bad-mask) pairs in priority order and picks each row's first reason."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._codes = np.zeros(rows, dtype=np.int16)
        self._names: list[str] = [""]

    def add(self, reason: str, bad: np.ndarray | pd.Series) -> None:
        mask = np.asarray(bad, dtype=bool)
        self._names.append(reason)
        self._codes[(self._codes == 0) & mask] = len(self._names) - 1

    @property
    def ok(self) -> np.ndarray:
        return self._codes == 0

    def reasons(self) -> np.ndarray:
        return np.asarray(self._names, dtype=object)[self._codes]


def _text(values: pd.Series | None, rows: int) -> pd.Series:
    """Stripped str values; missing and absent columns read as ``""``."""
    if values is None:
        return pd.Series([""] * rows, dtype="str")
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("str")
    return values.fillna("").str.strip()


def _parse_timestamp(values: pd.Series | None, text: pd.Series) -> pd.Series:
    if values is not None and ptypes.is_datetime64_any_dtype(values.dtype):
        stamps = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
        return stamps.dt.tz_convert("UTC").astype(TS_DTYPE)
    if values is not None and values.dtype == object:  # Parquet dates arrive as datetime.date
        return pd.to_datetime(values, utc=True, errors="coerce").astype(TS_DTYPE)
    parsed = pd.to_datetime(text.where(text != ""), utc=True, errors="coerce", format="ISO8601")
    return parsed.astype(TS_DTYPE)


def _parse_number(values: pd.Series | None, text: pd.Series) -> np.ndarray:
    if values is not None and (
        ptypes.is_numeric_dtype(values.dtype) and not ptypes.is_bool_dtype(values.dtype)
    ):
        return values.astype("float64").to_numpy(na_value=np.nan)
    if values is not None and ptypes.is_bool_dtype(values.dtype):
        return values.astype("float64").to_numpy(na_value=np.nan)
    source = values if values is not None and values.dtype == object else text
    numbers = pd.to_numeric(source, errors="coerce")
    return np.asarray(numbers, dtype="float64")


def _check_columns(
    frame: pd.DataFrame, spec: c.TableSpec, checks: _RowChecks, base_currency: str
) -> dict[str, pd.Series]:
    """Parse each contract column and add its checks; returns the parsed columns."""
    rows = len(frame)
    parsed: dict[str, pd.Series] = {}
    for column in spec.columns:
        if column.kind == "identifier":
            continue
        values = frame[column.name] if column.name in frame.columns else None
        text = _text(values, rows)
        blank = (text == "").to_numpy()
        name = column.name
        if column.kind == "id":
            checks.add(f"empty_{name}", blank)
            checks.add(f"too_long_{name}", (text.str.len() > c.ID_MAX_LENGTH).to_numpy())
            parsed[name] = text
        elif column.kind == "text":
            if column.required:
                checks.add(f"empty_{name}", blank)
            parsed[name] = text.where(~blank)
        elif column.kind == "choice":
            lowered = text.str.lower()
            if column.default is not None:
                lowered = lowered.where(~blank, column.default)
            else:
                checks.add(f"empty_{name}", blank)
            checks.add(f"unknown_{name}", ~lowered.isin(column.choices).to_numpy())
            parsed[name] = lowered
        elif column.kind in ("timestamp", "date"):
            stamps = _parse_timestamp(values, text)
            if column.kind == "date":
                stamps = stamps.dt.floor("D")
            if column.required:
                checks.add(f"empty_{name}", blank)
            checks.add(f"bad_{name}", ~blank & stamps.isna().to_numpy())
            parsed[name] = stamps
        elif column.kind in ("amount", "number", "count", "label"):
            numbers = _parse_number(values, text)
            bad = ~blank & ~np.isfinite(numbers)
            if column.kind == "amount":
                checks.add(f"empty_{name}", blank)
                checks.add(f"bad_{name}", bad)
                checks.add(f"not_positive_{name}", ~blank & ~bad & (numbers <= 0))
            elif column.kind == "label":
                checks.add(f"bad_{name}", bad | (~blank & ~np.isin(numbers, (0.0, 1.0))))
            else:
                if column.kind == "count":
                    bad |= ~blank & np.isfinite(numbers) & (numbers != np.floor(numbers))
                checks.add(f"bad_{name}", bad)
                checks.add(f"negative_{name}", ~blank & ~bad & (numbers < 0))
            parsed[name] = pd.Series(numbers, index=frame.index)
        elif column.kind == "currency":
            upper = text.str.upper()
            if column.required:
                checks.add(f"empty_{name}", blank)
            else:
                upper = upper.where(~blank, base_currency)
            parsed[name] = upper
    return parsed


def _rejected_rows(
    table: TableFile,
    chunk: RawChunk,
    reasons: np.ndarray,
    key: bytes,
    phone_country_code: str | None = None,
) -> pd.DataFrame:
    """The chunk's rejected rows as strings, identifier columns hashed, plus too-long records."""
    bad = reasons != ""
    rows = chunk.frame.loc[bad, table.columns]
    out = rows.astype("str").fillna("") if len(rows) else rows.astype("str")
    for id_type in IDENTIFIER_TYPES:
        if table.spec.name == "businesses" and id_type in out.columns and len(out):
            hashed = hash_identifiers(
                rows[id_type], id_type, key, default_country_code=phone_country_code
            )
            out[id_type] = hashed.fillna("")
    out.insert(0, "reason", reasons[bad])
    out.insert(0, "line", chunk.lines[bad])
    if len(chunk.bad_lines):
        ragged = pd.DataFrame({"line": chunk.bad_lines, "reason": c.BAD_FIELD_COUNT})
        out = pd.concat([out, ragged.reindex(columns=out.columns, fill_value="")])
    return out.sort_values("line", kind="stable")


class ExportReader:
    """Reads and validates one export folder (see module docstring); use as a context manager,
    or call :meth:`close`, so rejects are published (on success) or discarded (on error).

    ``key`` is the identifier-hashing key; ``rejects_dir=None`` counts rejects without writing
    them. ``phone_country_code`` (e.g. ``"44"``) turns national phone numbers with a trunk ``0``
    into international ones before hashing, so both spellings match. ``chunk_rows`` bounds
    memory. ``on_progress(table, rows_read)`` is called per chunk.
    """

    def __init__(
        self,
        export_dir: Path,
        key: bytes,
        *,
        rejects_dir: Path | None,
        base_currency: str = "USD",
        phone_country_code: str | None = None,
        chunk_rows: int = 200_000,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        if not key:
            raise ValueError("the identifier-hashing key is empty")
        self.export_dir = Path(export_dir)
        self._key = key
        self.phone_country_code = phone_country_code
        self.base_currency = base_currency.strip().upper()
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
                    name, table.path.name, extra_columns=table.extra_columns
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
            tally.read += len(chunk.frame) + len(chunk.bad_lines)
            yield table, chunk, tally
            if self._on_progress is not None:
                self._on_progress(name, tally.read)

    def _finish_chunk(
        self, table: TableFile, chunk: RawChunk, tally: TableReport, reasons: np.ndarray
    ) -> np.ndarray:
        """Count and write the chunk's rejects; returns the kept-row mask."""
        kept = reasons == ""
        tally.kept += int(kept.sum())
        tally.rejected += int((~kept).sum()) + len(chunk.bad_lines)
        tally.rejected_by_reason.update(reasons[~kept].tolist())
        if len(chunk.bad_lines):
            tally.rejected_by_reason[c.BAD_FIELD_COUNT] += len(chunk.bad_lines)
        if (~kept).any() or len(chunk.bad_lines):
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
                checks = _RowChecks(len(chunk.frame))
                parsed = _check_columns(chunk.frame, c.FX_RATES, checks, self.base_currency)
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
        """(businesses: BUSINESS_COLUMNS + extra columns, identifiers: IDENTIFIER_COLUMNS) of the
        kept rows; identifiers are hashed, one row per (business, non-blank identifier)."""
        if self._businesses is not None:
            return self._businesses
        seen = SeenHashes()
        kept_frames: list[pd.DataFrame] = []
        identifier_frames: list[pd.DataFrame] = []
        for table, chunk, tally in self._chunks("businesses"):
            frame = chunk.frame
            checks = _RowChecks(len(frame))
            parsed = _check_columns(frame, c.BUSINESSES, checks, self.base_currency)
            ids = parsed["business_id"]
            usable = (ids != "").to_numpy() & (ids.str.len() <= c.ID_MAX_LENGTH).to_numpy()
            hashes = _hash64(ids)
            duplicate = ids.duplicated().to_numpy() | seen.contains(hashes)
            checks.add(c.DUPLICATE_BUSINESS_ID, usable & duplicate)
            seen.add(hashes[usable])
            kept = self._finish_chunk(table, chunk, tally, checks.reasons())
            out = pd.DataFrame({name: parsed[name][kept] for name in BUSINESS_COLUMNS})
            out["employees"] = out["employees"].astype("Int64")
            out["declared_revenue"] = out["declared_revenue"].astype("float64")
            for extra in table.extra_columns:
                out[extra] = frame.loc[kept, extra]
            kept_frames.append(out)
            for id_type in IDENTIFIER_TYPES:
                if id_type in frame.columns:
                    hashed = hash_identifiers(
                        frame.loc[kept, id_type],
                        id_type,
                        self._key,
                        default_country_code=self.phone_country_code,
                    )
                    present = hashed.notna()
                    identifier_frames.append(
                        pd.DataFrame(
                            {
                                "business_id": out["business_id"][present],
                                "id_type": id_type,
                                "id_hash": hashed[present],
                            }
                        )
                    )
        businesses = _concat(kept_frames, BUSINESS_COLUMNS)
        identifiers = _concat(identifier_frames, IDENTIFIER_COLUMNS).astype("str")
        self._businesses = (businesses, identifiers)
        self._known_ids = pd.Index(businesses["business_id"])
        return self._businesses

    def _known(self) -> pd.Index:
        if self._known_ids is None:
            self.businesses()
        assert self._known_ids is not None
        return self._known_ids

    def iter_orders(self) -> Iterator[pd.DataFrame]:
        """Kept orders in chunks of at most ``chunk_rows``: ORDER_COLUMNS, then extra columns.
        Iterating again re-reads the file and resets the transactions counts and rejects."""
        known, rates = self._known(), self.fx_rates()
        rate_index = pd.Series(rates, dtype="float64")
        seen = SeenHashes()
        for table, chunk, tally in self._chunks("transactions"):
            frame = chunk.frame
            checks = _RowChecks(len(frame))
            parsed = _check_columns(frame, c.TRANSACTIONS, checks, self.base_currency)
            txn = parsed["txn_id"]
            usable = (txn != "").to_numpy() & (txn.str.len() <= c.ID_MAX_LENGTH).to_numpy()
            hashes = _hash64(txn)
            duplicate = txn.duplicated().to_numpy() | seen.contains(hashes)
            seen.add(hashes[usable])
            rate = parsed["currency"].map(rate_index).to_numpy(dtype="float64", na_value=np.nan)
            seller, buyer = parsed["seller_id"], parsed["buyer_id"]
            checks.add(c.DUPLICATE_TXN_ID, usable & duplicate)
            checks.add(c.NO_FX_RATE, np.isnan(rate))
            checks.add(c.UNKNOWN_SELLER, known.get_indexer(seller) < 0)
            checks.add(c.UNKNOWN_BUYER, known.get_indexer(buyer) < 0)
            checks.add(c.BUYER_IS_SELLER, (buyer == seller).to_numpy())
            kept = self._finish_chunk(table, chunk, tally, checks.reasons())
            ts = parsed["ts"]
            orders = pd.DataFrame(
                {
                    "txn_id": txn,
                    "seller_id": seller,
                    "buyer_id": buyer,
                    "ts": ts,
                    "amount": parsed["amount"],
                    "currency": parsed["currency"],
                    "amount_base": parsed["amount"] * rate,
                    "status": parsed["status"],
                    "status_at": parsed["status_at"].fillna(ts),
                    "category": parsed["category"],
                }
            ).loc[kept, ORDER_COLUMNS]
            for extra in table.extra_columns:
                orders[extra] = frame.loc[kept, extra]
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
            frame = chunk.frame
            checks = _RowChecks(len(frame))
            parsed = _check_columns(frame, c.OUTCOMES, checks, self.base_currency)
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
            kept = self._finish_chunk(table, chunk, tally, checks.reasons())
            out = pd.DataFrame({name: parsed[name][kept] for name in OUTCOME_COLUMNS})
            for label in c.OUTCOMES.column_names[2:]:
                out[label] = out[label].astype("Int8")
            for extra in table.extra_columns:
                out[extra] = frame.loc[kept, extra]
            frames.append(out)
        return _concat(frames, OUTCOME_COLUMNS)

    def validate_all(self) -> ValidationReport:
        """Read every table once (orders discarded) and return the report."""
        self.fx_rates()
        self.businesses()
        for _ in self.iter_orders():
            pass
        self.outcomes()
        return self.report


_EMPTY_DTYPES: dict[str, Any] = {
    "registered_at": TS_DTYPE,
    "as_of": TS_DTYPE,
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
    base_currency: str = "USD",
    phone_country_code: str | None = None,
    chunk_rows: int = 200_000,
    on_progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Validate every table of an export; rejects (if ``rejects_dir``) and report.json are
    written only if the whole run succeeds. Raises :class:`ExportStructureError`."""
    with ExportReader(
        export_dir,
        key,
        rejects_dir=rejects_dir,
        base_currency=base_currency,
        phone_country_code=phone_country_code,
        chunk_rows=chunk_rows,
        on_progress=on_progress,
    ) as reader:
        return reader.validate_all()
