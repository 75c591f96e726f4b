"""The marketplace input contract (docs/input-format.md) as data: tables, columns, reason codes.

Reader and validator derive every structural and per-column check from these specs, so the
contract lives in one place. Column *kinds* decide how a raw value is parsed and checked:

- ``id``: stripped string, 1–64 chars (``empty_<col>``, ``too_long_<col>``).
- ``text``: stripped string; if required, non-empty (``empty_<col>``).
- ``choice``: stripped, lower-cased, one of ``choices`` (``unknown_<col>``); blank -> ``default``.
- ``timestamp``: ISO 8601, no zone = UTC (``bad_<col>``); ``date``: the same, floored to UTC
  midnight.
- ``amount``: finite number > 0 (``bad_<col>``, ``not_positive_<col>``).
- ``number`` / ``count``: optional finite number / integer >= 0 (``bad_<col>``,
  ``negative_<col>``).
- ``label``: optional 0/1 (``bad_<col>``).
- ``currency``: stripped, upper-cased ISO 4217 code; blank -> the deployment's base currency.
- ``identifier``: normalised and HMAC-hashed at read time (loaders.identifiers); never rejected.

Pandera schemas for the *output* frames (loaders/columns.py) are here too, so any package can
assert that a frame follows the contract (``ORDER_SCHEMA.validate(frame)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pandera.pandas as pa

from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_KINDS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_TYPES,
    ORDER_COLUMNS,
    ORDER_STATUSES,
    OUTCOME_COLUMNS,
)

#: Longest id accepted (business_id, txn_id, buyer_id, seller_id), in characters.
ID_MAX_LENGTH: Final = 64

ColumnKind = Literal[
    "id",
    "text",
    "choice",
    "timestamp",
    "date",
    "amount",
    "number",
    "count",
    "label",
    "currency",
    "identifier",
]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an export table. ``default`` applies to blank values of optional columns."""

    name: str
    kind: ColumnKind
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One export table: file stem (``NAME.csv`` / ``NAME.parquet``) and its columns."""

    name: str
    columns: tuple[ColumnSpec, ...]
    required_file: bool

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.required]

    def column(self, name: str) -> ColumnSpec:
        return next(column for column in self.columns if column.name == name)


BUSINESSES: Final = TableSpec(
    "businesses",
    (
        ColumnSpec("business_id", "id", required=True),
        ColumnSpec("kind", "choice", choices=tuple(BUSINESS_KINDS), default="sme"),
        ColumnSpec("registered_at", "date", required=True),
        ColumnSpec("region", "text", required=True),
        ColumnSpec("industry", "text", required=True),
        ColumnSpec("employees", "count"),
        ColumnSpec("declared_revenue", "number"),
        *(ColumnSpec(id_type, "identifier") for id_type in IDENTIFIER_TYPES),
    ),
    required_file=True,
)

TRANSACTIONS: Final = TableSpec(
    "transactions",
    (
        ColumnSpec("txn_id", "id", required=True),
        ColumnSpec("buyer_id", "id", required=True),
        ColumnSpec("seller_id", "id", required=True),
        ColumnSpec("ts", "timestamp", required=True),
        ColumnSpec("amount", "amount", required=True),
        ColumnSpec("currency", "currency"),
        ColumnSpec("status", "choice", required=True, choices=tuple(ORDER_STATUSES)),
        ColumnSpec("status_at", "timestamp"),
        ColumnSpec("category", "text"),
    ),
    required_file=True,
)

OUTCOMES: Final = TableSpec(
    "outcomes",
    (
        ColumnSpec("business_id", "id", required=True),
        ColumnSpec("as_of", "date", required=True),
        ColumnSpec("defaulted", "label"),
        ColumnSpec("fraud", "label"),
    ),
    required_file=False,
)

FX_RATES: Final = TableSpec(
    "fx_rates",
    (
        ColumnSpec("currency", "currency", required=True),
        ColumnSpec("rate_to_base", "amount", required=True),
    ),
    required_file=False,
)

#: The four tables, in the order they are validated (fx rates and businesses are needed first).
TABLES: Final = {spec.name: spec for spec in (FX_RATES, BUSINESSES, TRANSACTIONS, OUTCOMES)}

# --- Reason codes that are not derived from one column's kind.
BAD_FIELD_COUNT: Final = "bad_field_count"  # a CSV record with more fields than the header
DUPLICATE_BUSINESS_ID: Final = "duplicate_business_id"
DUPLICATE_TXN_ID: Final = "duplicate_txn_id"
DUPLICATE_OUTCOME: Final = "duplicate_outcome"  # same (business_id, as_of) twice
DUPLICATE_CURRENCY: Final = "duplicate_currency"
BASE_RATE_NOT_ONE: Final = "base_rate_not_one"
UNKNOWN_BUYER: Final = "unknown_buyer"
UNKNOWN_SELLER: Final = "unknown_seller"
BUYER_IS_SELLER: Final = "buyer_is_seller"
NO_FX_RATE: Final = "no_fx_rate"
UNKNOWN_BUSINESS: Final = "unknown_business"  # an outcome for a business not in businesses
NO_LABEL: Final = "no_label"  # an outcome with neither defaulted nor fraud


def column_reasons(column: ColumnSpec) -> list[str]:
    """Reason codes a column of this kind can produce, in the order they are checked."""
    name = column.name
    by_kind: dict[str, list[str]] = {
        "id": [f"empty_{name}", f"too_long_{name}"],
        "text": [f"empty_{name}"] if column.required else [],
        "choice": ([f"empty_{name}"] if column.default is None else []) + [f"unknown_{name}"],
        "timestamp": ([f"empty_{name}"] if column.required else []) + [f"bad_{name}"],
        "date": ([f"empty_{name}"] if column.required else []) + [f"bad_{name}"],
        "amount": [f"empty_{name}", f"bad_{name}", f"not_positive_{name}"],
        "number": [f"bad_{name}", f"negative_{name}"],
        "count": [f"bad_{name}", f"negative_{name}"],
        "label": [f"bad_{name}"],
        "currency": [f"empty_{name}"] if column.required else [],
        "identifier": [],
    }
    return by_kind[column.kind]


def all_reasons(table: TableSpec) -> list[str]:
    """Every reason code a table's rows can be rejected with (for docs and tests)."""
    extra: dict[str, list[str]] = {
        "businesses": [DUPLICATE_BUSINESS_ID],
        "transactions": [
            DUPLICATE_TXN_ID,
            NO_FX_RATE,
            UNKNOWN_SELLER,
            UNKNOWN_BUYER,
            BUYER_IS_SELLER,
        ],
        "outcomes": [NO_LABEL, DUPLICATE_OUTCOME, UNKNOWN_BUSINESS],
        "fx_rates": [DUPLICATE_CURRENCY, BASE_RATE_NOT_ONE],
    }
    reasons = [BAD_FIELD_COUNT]
    for column in table.columns:
        reasons += column_reasons(column)
    return reasons + extra[table.name]


# --- Pandera schemas of the frames the reader hands to other packages (loaders/columns.py).
_UTC_TS = pa.Column("datetime64[us, UTC]", nullable=False)
_ID = pa.Column(str, checks=pa.Check.str_length(1, ID_MAX_LENGTH), nullable=False)

BUSINESS_SCHEMA: Final = pa.DataFrameSchema(
    {
        "business_id": _ID,
        "kind": pa.Column(str, pa.Check.isin(BUSINESS_KINDS)),
        "registered_at": _UTC_TS,
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "industry": pa.Column(str, pa.Check.str_length(min_value=1)),
        "employees": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "declared_revenue": pa.Column(float, pa.Check.ge(0), nullable=True),
    },
    unique=["business_id"],
    ordered=True,
    strict=False,
)
IDENTIFIER_SCHEMA: Final = pa.DataFrameSchema(
    {
        "business_id": _ID,
        "id_type": pa.Column(str, pa.Check.isin(IDENTIFIER_TYPES)),
        "id_hash": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{64}$")),
    },
    ordered=True,
    strict=True,
)
ORDER_SCHEMA: Final = pa.DataFrameSchema(
    {
        "txn_id": _ID,
        "seller_id": _ID,
        "buyer_id": _ID,
        "ts": _UTC_TS,
        "amount": pa.Column(float, pa.Check.gt(0)),
        "currency": pa.Column(str, pa.Check.str_length(min_value=1)),
        "amount_base": pa.Column(float, pa.Check.gt(0)),
        "status": pa.Column(str, pa.Check.isin(ORDER_STATUSES)),
        "status_at": _UTC_TS,
        "category": pa.Column(str, nullable=True),
    },
    unique=["txn_id"],
    ordered=True,
    strict=False,
)
OUTCOME_SCHEMA: Final = pa.DataFrameSchema(
    {
        "business_id": _ID,
        "as_of": _UTC_TS,
        "defaulted": pa.Column("Int8", pa.Check.isin([0, 1]), nullable=True),
        "fraud": pa.Column("Int8", pa.Check.isin([0, 1]), nullable=True),
    },
    ordered=True,
    strict=False,
)

assert list(BUSINESS_SCHEMA.columns) == BUSINESS_COLUMNS
assert list(IDENTIFIER_SCHEMA.columns) == IDENTIFIER_COLUMNS
assert list(ORDER_SCHEMA.columns) == ORDER_COLUMNS
assert list(OUTCOME_SCHEMA.columns) == OUTCOME_COLUMNS
