"""What both real-data adapters share: the reconciliation report, tolerant CSV reading, writing.

The adapters never drop a source row silently: each one is either written to the table its file
feeds or counted under a reason, and ``ConversionReport.reconciles()`` checks that
``source rows = written rows + dropped rows`` for every source file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Reasons shared by both adapters (each adapter may add its own).
UNPARSEABLE = "unparseable row"
SELF_LOOP = "self-loop (buyer = seller)"
BAD_LABEL = "label not recognised"
DUPLICATE_LABEL = "duplicate label row (same node, same label)"
CONFLICTING_LABEL = "conflicting labels for one node"

#: Tables an adapter writes, in this order; each is ``OUT/NAME.csv``.
TABLES = ("businesses", "transactions", "outcomes")
#: Machine-readable record of the conversion, written next to the tables (not a contract table).
REPORT_FILE = "import-report.json"
MAX_ID_LENGTH = 64


class RealDataError(ValueError):
    """A source folder that cannot be converted; the message says what to fix."""


@dataclass
class ConversionReport:
    """Reconciliation of one conversion: rows read per source file vs rows written and dropped.

    ``feeds`` maps each source file to the table its rows become (one table per file);
    ``dropped[file][reason]`` counts source rows not written; ``notes`` holds counts that are
    not drops (rows kept with a caveat, derived facts such as ``as_of``).
    """

    dataset: str
    out: Path
    source_rows: dict[str, int] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)
    written_rows: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    notes: dict[str, int | str] = field(default_factory=dict)

    def dropped_total(self, source_file: str) -> int:
        """Rows of ``source_file`` that were not written, all reasons together."""
        return sum(self.dropped.get(source_file, Counter()).values())

    def reconciles(self) -> bool:
        """True when every source file's rows = rows written to its table + rows dropped."""
        return all(
            read == self.written_rows.get(self.feeds[name], 0) + self.dropped_total(name)
            for name, read in self.source_rows.items()
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (also what ``import-report.json`` holds)."""
        return {
            "dataset": self.dataset,
            "out": str(self.out),
            "reconciles": self.reconciles(),
            "source_rows": self.source_rows,
            "feeds": self.feeds,
            "written_rows": self.written_rows,
            "dropped": {name: dict(reasons) for name, reasons in self.dropped.items()},
            "notes": self.notes,
        }


def require_file(src: Path, name: str, dataset: str) -> Path:
    """``src / name``, or a RealDataError telling the user which folder to point at."""
    path = src / name
    if not path.is_file():
        raise RealDataError(
            f"{path} not found: SRC must be the {dataset} folder holding {name} "
            f"(e.g. ../shared/data/{dataset})."
        )
    return path


def read_raw_csv(path: Path, columns: list[str], *, header: bool) -> tuple[pd.DataFrame, int]:
    """Every data row of ``path`` as strings under ``columns``, plus the count of malformed rows.

    Rows with too many fields are counted and skipped (they can't be aligned to columns); rows
    with too few come back with empty strings, for the caller to count as unparseable. Blank
    lines are not rows. With ``header`` the file's first line is skipped, whatever it says.
    """
    malformed = 0

    def count_bad_line(_fields: list[str]) -> None:
        nonlocal malformed
        malformed += 1
        return None

    try:
        frame = pd.read_csv(
            path,
            header=None,
            names=columns,
            skiprows=1 if header else 0,
            dtype=str,
            keep_default_na=False,
            engine="python",
            on_bad_lines=count_bad_line,
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as error:
        raise RealDataError(
            f"{path} is not UTF-8 text ({error}); is it the original file?"
        ) from error
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame({name: pd.Series(dtype=str) for name in columns})
    return frame.map(str.strip), malformed


def check_header(path: Path, expected: list[str]) -> None:
    """Raise RealDataError unless the first line of ``path`` names ``expected`` (in order)."""
    with path.open(encoding="utf-8-sig") as handle:
        first = handle.readline().strip()
    found = [name.strip() for name in first.split(",")]
    if found != expected:
        raise RealDataError(
            f"{path}: header is {first!r}, expected {','.join(expected)!r}; "
            "is this the original file of the dataset?"
        )


def valid_ids(ids: pd.Series) -> pd.Series:
    """Boolean mask: non-empty ids of at most 64 characters (the contract's limit)."""
    lengths = ids.str.len()
    return (lengths > 0) & (lengths <= MAX_ID_LENGTH)


def unix_to_utc(seconds: pd.Series) -> pd.Series:
    """Unix seconds (float) -> tz-aware UTC timestamps, microsecond resolution."""
    return pd.to_datetime(seconds, unit="s", utc=True).dt.round("us")


def iso_timestamp(ts: pd.Series) -> pd.Series:
    """UTC timestamps as ISO 8601 text with an explicit ``Z`` (e.g. 2010-11-08T18:45:11.728360Z)."""
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_date(ts: pd.Series) -> pd.Series:
    """Timestamps floored to their UTC date, as ISO text (YYYY-MM-DD)."""
    return ts.dt.strftime("%Y-%m-%d")


def as_of_after(last_ts: pd.Timestamp) -> pd.Timestamp:
    """One score date for undated labels: the midnight after ``last_ts`` (every edge is before)."""
    return last_ts.floor("D") + pd.Timedelta(days=1)


def businesses_from_orders(
    orders: pd.DataFrame, extra_ids: pd.Series, fallback_date: pd.Timestamp
) -> tuple[pd.DataFrame, int]:
    """One ``sme`` business per node, registered on the date of its first kept order.

    ``orders`` has ``buyer_id, seller_id, ts``; ``extra_ids`` are nodes that must exist even
    without orders (labelled or listed nodes): they are registered at ``fallback_date`` (the
    start of the data) and counted, the second value returned. Region and industry are
    ``unknown``: the sources have neither, and the contract requires both.
    """
    endpoints = pd.concat(
        [
            orders[["buyer_id", "ts"]].rename(columns={"buyer_id": "business_id"}),
            orders[["seller_id", "ts"]].rename(columns={"seller_id": "business_id"}),
        ],
        ignore_index=True,
    )
    first_seen = endpoints.groupby("business_id", sort=False)["ts"].min()
    extra = pd.Index(extra_ids.drop_duplicates()).difference(first_seen.index, sort=False)
    registered = pd.concat(
        [first_seen, pd.Series(fallback_date, index=extra, dtype=first_seen.dtype)]
    )
    businesses = pd.DataFrame(
        {
            "business_id": registered.index.astype(str),
            "kind": "sme",
            "registered_at": iso_date(registered.dt.floor("D")).to_numpy(),
            "region": "unknown",
            "industry": "unknown",
        }
    )
    return businesses, len(extra)


def dedupe_labels(labels: pd.DataFrame, dropped: Counter[str]) -> pd.DataFrame:
    """One label per node: identical repeats drop to one, nodes with conflicting labels drop out.

    ``labels`` has ``business_id, fraud`` (and any carried columns); drops are counted in
    ``dropped`` under DUPLICATE_LABEL / CONFLICTING_LABEL.
    """
    distinct = labels.groupby("business_id", sort=False)["fraud"].transform("nunique")
    conflicting = distinct > 1
    dropped[CONFLICTING_LABEL] += int(conflicting.sum())
    consistent = labels[~conflicting]
    repeated = consistent.duplicated("business_id", keep="first")
    dropped[DUPLICATE_LABEL] += int(repeated.sum())
    return consistent[~repeated]


@dataclass(frozen=True)
class LabelledGraph:
    """What every adapter reads from its source, before the common export is built:
    ``orders`` (``txn_id, buyer_id, seller_id, ts`` UTC, ``amount`` and the dataset's
    ``carried`` columns), the ``node_ids`` that must exist as businesses even without orders
    and the node ``labels`` (``business_id, fraud`` and optionally ``split``)."""

    orders: pd.DataFrame
    node_ids: pd.Series
    labels: pd.DataFrame
    carried: tuple[str, ...] = ()


def write_labelled_graph(
    source: LabelledGraph, out: Path, report: ConversionReport
) -> pd.Timestamp:
    """The converter template: businesses from the orders' endpoints (and ``node_ids``), the
    orders as completed transactions, one fraud outcome per label dated the midnight after the
    last order; the notes every dataset gets; the tables and report written to ``out``.
    Returns the outcomes' score date. Adapters add their own notes before calling it."""
    orders, labels = source.orders, source.labels
    as_of = as_of_after(orders["ts"].max())
    businesses, isolated = businesses_from_orders(
        orders, source.node_ids, fallback_date=orders["ts"].min()
    )
    transactions = orders.assign(ts=iso_timestamp(orders["ts"]), status="completed")[
        ["txn_id", "buyer_id", "seller_id", "ts", "amount", "status", *source.carried]
    ]
    outcomes = pd.DataFrame(
        {
            "business_id": labels["business_id"].to_numpy(),
            "as_of": as_of.strftime("%Y-%m-%d"),
            "defaulted": pd.array([pd.NA] * len(labels), dtype="Int8"),
            "fraud": labels["fraud"].astype("Int8").to_numpy(),
        }
    )
    if "split" in labels:
        outcomes["split"] = labels["split"].to_numpy()
    report.notes.update(
        {
            "as_of": as_of.strftime("%Y-%m-%d"),
            "businesses without kept orders (labelled or listed)": isolated,
            "repeated (buyer, seller) pairs kept as separate orders": int(
                orders.duplicated(["buyer_id", "seller_id"]).sum()
            ),
            "fraud = 1 outcomes": int((outcomes["fraud"] == 1).sum()),
        }
    )
    tables = {"businesses": businesses, "transactions": transactions, "outcomes": outcomes}
    write_export(out, tables, report)
    return as_of


def write_export(out: Path, tables: dict[str, pd.DataFrame], report: ConversionReport) -> None:
    """Write ``OUT/{businesses,transactions,outcomes}.csv`` and the JSON report; count rows."""
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        tables[name].to_csv(out / f"{name}.csv", index=False)
        report.written_rows[name] = len(tables[name])
    (out / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")


def existing_tables(out: Path) -> list[Path]:
    """Contract tables (csv or parquet) already in ``out``, which a conversion would overwrite."""
    return [
        out / f"{name}.{ext}"
        for name in (*TABLES, "fx_rates")
        for ext in ("csv", "parquet")
        if (out / f"{name}.{ext}").exists()
    ]
