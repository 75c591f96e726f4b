"""Find an export's table files, check their structure, and read them in bounded-size chunks.

Structure is checked for every file before any row is validated (so a structural problem stops
the run before anything is written): file present, readable, valid UTF-8 (CSV; a BOM and CRLF
are accepted), a header without duplicate names, every required column present, Parquet column
types compatible with the column's kind. Messages name the file and column, never a value.

Chunks are DataFrames of at most ``chunk_rows`` rows plus the source line of each row and the
number of physical lines it covers. CSV values stay strings (the validator parses them);
Parquet values keep their types. Line numbers: for CSV the physical line where the record
starts (the header is line 1); for Parquet the 1-based row number. A CSV record with more fields
than the header cannot be split into columns: it is reported in ``bad_lines`` instead; a record
with fewer fields reads as if the missing trailing fields were empty.

Physical lines are accounted for exactly, so a stray quote cannot hide rows: a record whose
quoted value holds a line break covers several physical lines (``spans``); the validator rejects
every line of it. The span of a record the parser skipped (too many fields: typically a stray
quote that swallowed the following records) is found by re-reading just that record with the
``csv`` module from its first line (:class:`_LineCursor`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loaders.contract import TABLES, ColumnSpec, TableSpec

_SCAN_BLOCK = 8 << 20
_SKIPPED_LINE = re.compile(r"Skipping line (\d+)")


class ExportStructureError(ValueError):
    """The export cannot be read as the contract says; nothing was written. Names the file and
    (where one is at fault) the column; never contains a value from the data."""

    def __init__(self, message: str, *, file: str, column: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.column = column


@dataclass
class TableFile:
    """One table's file in an export and its header (column names in file order)."""

    spec: TableSpec
    path: Path
    format: Literal["csv", "parquet"]
    columns: list[str] = field(default_factory=list)

    @property
    def extra_columns(self) -> list[str]:
        return [name for name in self.columns if name not in self.spec.column_names]


@dataclass
class RawChunk:
    """Up to ``chunk_rows`` parsed rows, each row's first source line and how many physical
    lines it covers (``spans``; 1 unless a quoted value holds a line break), and the records
    that had too many fields to be split into columns (CSV only: first line and span)."""

    frame: pd.DataFrame
    lines: np.ndarray
    bad_lines: np.ndarray
    spans: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bad_spans: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        # Not given: every record covers one physical line.
        if len(self.spans) != len(self.lines):
            self.spans = np.ones(len(self.lines), dtype=np.int64)
        if len(self.bad_spans) != len(self.bad_lines):
            self.bad_spans = np.ones(len(self.bad_lines), dtype=np.int64)


def discover_tables(export_dir: Path) -> tuple[dict[str, TableFile], list[str]]:
    """The table files of an export (by table name) and the names of other, ignored files."""
    if not export_dir.is_dir():
        raise ExportStructureError(
            f"{export_dir} is not a folder: pass the folder that holds businesses.csv, "
            "transactions.csv (or .parquet) and optionally outcomes and fx_rates.",
            file=str(export_dir),
        )
    found: dict[str, TableFile] = {}
    ignored: list[str] = []
    for path in sorted(export_dir.iterdir()):
        suffix = path.suffix.lower()
        if path.is_file() and path.stem in TABLES and suffix in (".csv", ".parquet"):
            if path.stem in found:
                raise ExportStructureError(
                    f"{path.stem} is in {export_dir} twice ({found[path.stem].path.name} and "
                    f"{path.name}): keep exactly one of them.",
                    file=path.name,
                )
            found[path.stem] = TableFile(
                TABLES[path.stem], path, "csv" if suffix == ".csv" else "parquet"
            )
        else:
            ignored.append(path.name)
    for spec in TABLES.values():
        if spec.required_file and spec.name not in found:
            raise ExportStructureError(
                f"required file {spec.name}.csv (or {spec.name}.parquet) is missing from "
                f"{export_dir}: add it, or point to the right export folder.",
                file=f"{spec.name}.csv",
            )
    return found, ignored


def check_structure(table: TableFile) -> None:
    """Read the header (and, for CSV, decode the whole file) and check it against the spec;
    fills ``table.columns``. Raises :class:`ExportStructureError`."""
    name = table.path.name
    try:
        if table.format == "csv":
            table.columns = _csv_header(table.path)
            _check_utf8(table.path)
        else:
            schema = pq.read_schema(table.path)
            table.columns = list(schema.names)
    except ExportStructureError:
        raise
    except (OSError, pa.ArrowException) as error:
        raise ExportStructureError(
            f"cannot read {name} ({type(error).__name__}): check that it is a complete, "
            f"readable {table.format.upper()} file.",
            file=name,
        ) from None
    duplicates = sorted({c for c in table.columns if table.columns.count(c) > 1})
    if duplicates:
        raise ExportStructureError(
            f"{name} has the column {duplicates[0]!r} more than once: rename or drop the copy.",
            file=name,
            column=duplicates[0],
        )
    for column in table.spec.required_columns:
        if column not in table.columns:
            raise ExportStructureError(
                f"{name} has no column {column!r}, which the input format requires "
                "(see docs/input-format.md); add it to the header.",
                file=name,
                column=column,
            )
    if table.format == "parquet":
        for column, arrow_type in zip(schema.names, schema.types, strict=True):
            if column in table.spec.column_names:
                _check_parquet_type(name, table.spec.column(column), arrow_type)


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise ExportStructureError(
            f"{path.name} is empty or its first line is blank: the first line must be the "
            "header row.",
            file=path.name,
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportStructureError(
            f"{path.name} is not UTF-8 (header row): re-export it as UTF-8.", file=path.name
        ) from None
    return [column.strip() for column in next(csv.reader([text]))]


def _check_utf8(path: Path) -> None:
    """Decode the whole file incrementally; report the line of the first invalid byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        while block := handle.read(_SCAN_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                line += block.count(b"\n", 0, max(error.start, 0))
                raise ExportStructureError(
                    f"{path.name} is not valid UTF-8 (first bad byte near line {line}): "
                    "re-export it as UTF-8.",
                    file=path.name,
                ) from None
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ExportStructureError(
                f"{path.name} ends in the middle of a UTF-8 character: re-export it as UTF-8.",
                file=path.name,
            ) from None


def _check_parquet_type(file: str, column: ColumnSpec, arrow_type: pa.DataType) -> None:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    is_string = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    is_null = pa.types.is_null(arrow_type)
    allowed = {
        "id": is_string,
        "text": is_string,
        "choice": is_string,
        "currency": is_string,
        "identifier": is_string,
        "timestamp": is_string or pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type),
        "date": is_string or pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type),
        "amount": pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type),
        "number": pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type),
        "count": pa.types.is_integer(arrow_type),
        "label": pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type),
    }[column.kind]
    if not (allowed or is_null):
        expected = {
            "timestamp": "a timestamp, date or ISO 8601 string",
            "date": "a date, timestamp or ISO 8601 string",
            "amount": "a number",
            "number": "a number",
            "count": "an integer",
            "label": "an integer 0/1 or a boolean",
        }.get(column.kind, "a string")
        raise ExportStructureError(
            f"{file}: column {column.name!r} has Parquet type {arrow_type}, but the input "
            f"format needs {expected}; convert the column and write the file again.",
            file=file,
            column=column.name,
        )


def iter_chunks(table: TableFile, chunk_rows: int) -> Iterator[RawChunk]:
    """The table's rows in chunks of at most ``chunk_rows`` (structure already checked)."""
    if table.format == "csv":
        yield from _iter_csv(table, chunk_rows)
    else:
        yield from _iter_parquet(table, chunk_rows)


class _LineCursor:
    """Reads a CSV file forward by physical lines (``\\n``, ``\\r\\n`` or ``\\r``, as the
    parser splits them) to find how many lines one record starting at a given line covers."""

    def __init__(self, path: Path) -> None:
        self._handle = io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
        self._next = 1  # physical line number of the next line to read

    def close(self) -> None:
        self._handle.close()

    def _lines(self) -> Iterator[str]:
        while line := self._handle.readline():
            self._next += 1
            yield line

    def record_span(self, start: int) -> int:
        """Physical lines covered by the record that starts on line ``start`` (>= the lines
        already read)."""
        while self._next < start and self._handle.readline():
            self._next += 1
        first = self._next
        limit = csv.field_size_limit()
        csv.field_size_limit(max(limit, 1 << 30))  # a swallowing value can be large
        try:
            next(csv.reader(self._lines()), None)
        except csv.Error:
            pass  # the parser already reported the record; the lines read are its span
        finally:
            csv.field_size_limit(limit)
        return max(self._next - first, 1)


def _line_breaks(frame: pd.DataFrame) -> np.ndarray:
    """Per row, the line breaks inside its values (a record's span is that plus one)."""
    breaks = np.zeros(len(frame), dtype=np.int64)
    for column in frame.columns:
        values = frame[column]
        has = values.str.contains("\n", regex=False) | values.str.contains("\r", regex=False)
        if has.any():
            counts = values[has].str.count(r"\r\n|\r|\n").to_numpy(dtype=np.int64)
            breaks[has.to_numpy(dtype=bool)] += counts
    return breaks


def _place_records(
    records: np.ndarray,
    spans: np.ndarray,
    bad: np.ndarray,
    first_line: int,
    cursor: Callable[[], _LineCursor],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Physical first lines of the frame's rows and the skipped records, in record order.

    ``records``/``spans``: record numbers and spans of the parsed rows; ``bad``: record numbers
    of skipped records (spans unknown: measured with the cursor). Returns (row lines, bad
    lines, bad spans, next physical line)."""
    merged = np.concatenate([records, bad])
    order = np.argsort(merged, kind="stable")
    all_spans = np.concatenate([spans, np.zeros(len(bad), dtype=np.int64)])[order]
    is_bad = np.concatenate([np.zeros(len(records), bool), np.ones(len(bad), bool)])[order]
    starts = np.empty(len(merged), dtype=np.int64)
    position: int = int(first_line)
    done = 0
    for index in np.flatnonzero(is_bad):
        segment = all_spans[done:index]
        starts[done:index] = position + np.cumsum(segment) - segment
        position += int(segment.sum())
        starts[index] = position
        span = int(cursor().record_span(position))
        all_spans[index] = span
        position += span
        done = int(index) + 1
    segment = all_spans[done:]
    starts[done:] = position + np.cumsum(segment) - segment
    position += int(segment.sum())
    unsorted = np.empty_like(starts)
    unsorted[order] = starts
    spans_back = np.empty_like(all_spans)
    spans_back[order] = all_spans
    n = len(records)
    return unsorted[:n], unsorted[n:], spans_back[n:], position


def _iter_csv(table: TableFile, chunk_rows: int) -> Iterator[RawChunk]:
    skipped: list[int] = []  # record numbers of too-long records, in increasing order
    next_record = 2  # record number (header = 1) of the next parsed row
    next_line = 2  # physical line where the next record starts
    emitted_bad = 0
    cursors: list[_LineCursor] = []

    def cursor() -> _LineCursor:
        if not cursors:
            cursors.append(_LineCursor(table.path))
        return cursors[0]

    reader = pd.read_csv(
        table.path,
        dtype="str",
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        encoding="utf-8-sig",
        on_bad_lines="warn",
        chunksize=chunk_rows,
        names=table.columns,
        header=0,
    )
    try:
        with reader:
            while True:
                frame = _next_frame(reader, skipped, table.path.name, next_line)
                if frame is None:
                    break
                records = np.arange(next_record, next_record + len(frame), dtype=np.int64)
                for record in skipped[emitted_bad:]:
                    records[records >= record] += 1
                new_bad = np.array(
                    [n for n in skipped[emitted_bad:] if not len(records) or n <= records[-1]],
                    dtype=np.int64,
                )
                emitted_bad += len(new_bad)
                next_record = int(records[-1]) + 1 if len(records) else next_record
                frame.index = pd.RangeIndex(len(frame))
                spans = 1 + _line_breaks(frame)
                lines, bad_lines, bad_spans, next_line = _place_records(
                    records, spans, new_bad, next_line, cursor
                )
                yield RawChunk(frame, lines, bad_lines, spans, bad_spans)
        rest = np.array(skipped[emitted_bad:], dtype=np.int64)
        if len(rest):
            none = np.zeros(0, dtype=np.int64)
            _, bad_lines, bad_spans, _ = _place_records(none, none, rest, next_line, cursor)
            empty = pd.DataFrame(columns=table.columns, dtype="str")
            yield RawChunk(empty, none, bad_lines, none, bad_spans)
    finally:
        for open_cursor in cursors:
            open_cursor.close()


def _next_frame(
    reader: Iterator[pd.DataFrame], skipped: list[int], file: str, next_line: int
) -> pd.DataFrame | None:
    """The parser's next chunk (``None`` at the end); adds the record numbers it skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = next(reader)
        except StopIteration:
            frame = None
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise ExportStructureError(
                f"{file} cannot be parsed as CSV after line {next_line - 1} "
                f"({type(error).__name__}): a quoted value is probably never closed; check "
                "its quoting (a quote inside a quoted value is written as two quotes).",
                file=file,
            ) from None
    for warning in caught:
        skipped += [int(n) for n in _SKIPPED_LINE.findall(str(warning.message))]
    return frame


def _iter_parquet(table: TableFile, chunk_rows: int) -> Iterator[RawChunk]:
    parquet = pq.ParquetFile(table.path)
    start = 1
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            frame = batch.to_pandas()
            lines = np.arange(start, start + len(frame), dtype=np.int64)
            start += len(frame)
            yield RawChunk(frame, lines, lines[:0])
    except pa.ArrowException as error:
        raise ExportStructureError(
            f"cannot read {table.path.name} ({type(error).__name__}): the Parquet file is "
            "damaged; write it again.",
            file=table.path.name,
        ) from None
