"""The marketplace input contract (docs/input-format.md, contract v2) as data: tables, columns,
limits and reason codes.

Reader and validator derive every structural and per-column check from these specs, so the
contract lives in one place and ``validate`` and ``load`` share one definition of valid. Column
*kinds* decide how a raw value is parsed and checked:

- ``id``: NFKC-normalised, stripped, never case-folded; 1–64 chars, no control or format
  character (``empty_<col>``, ``control_char_<col>``, ``too_long_<col>``). Ids mixing scripts
  (Latin with Cyrillic, ...) are kept and counted as ``mixed_script_<col>`` in the report.
- ``text``: stripped string, at most 256 chars; if required, non-empty (``empty_<col>``,
  ``too_long_<col>``).
- ``choice``: stripped, lower-cased, one of ``choices`` (``unknown_<col>``); blank -> ``default``.
- ``timestamp``: ISO 8601, no zone = UTC (``bad_<col>``); ``date``: the same, floored to UTC
  midnight; both from 1970-01-01 to 2100-01-01 UTC (``out_of_range_<col>``).
- ``amount``: finite number > 0 and at most ``maximum`` (``bad_<col>``, ``not_positive_<col>``,
  ``too_large_<col>``).
- ``number`` / ``count``: optional finite number / integer >= 0 (``bad_<col>``,
  ``negative_<col>``).
- ``label``: optional 0/1 (``bad_<col>``).
- ``currency``: stripped, upper-cased ISO 4217 code; blank -> the deployment's base currency.
- ``identifier``: at most 256 chars (``too_long_<col>``), then normalised and HMAC-hashed at
  read time (loaders.identifiers).

Extra columns whose names look like personal data (:func:`looks_personal`) are hashed like
identifiers wherever they go (frames, rejects). Pandera schemas for the *output* frames
(loaders/columns.py) are here too, so any package can assert that a frame follows the contract
(``ORDER_SCHEMA.validate(frame)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_KINDS,
    BUSINESS_VERSION,
    CREDIT_EVENT_COLUMNS,
    CREDIT_EVENT_KINDS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_TYPES,
    ORDER_COLUMNS,
    ORDER_STATUSES,
    OUTCOME_COLUMNS,
)

#: Longest id accepted (business_id, txn_id, buyer_id, seller_id), in characters after NFKC.
ID_MAX_LENGTH: Final = 64
#: Longest other string (region, industry, category, currency, identifiers before hashing).
TEXT_MAX_LENGTH: Final = 256
#: Largest order amount, in the order's currency.
AMOUNT_MAX: Final = 1e12
#: Timestamps and dates must lie in [TIME_MIN, TIME_MAX] (UTC), in CSV and Parquet alike.
TIME_MIN: Final = pd.Timestamp("1970-01-01", tz="UTC")
TIME_MAX: Final = pd.Timestamp("2100-01-01", tz="UTC")

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
    maximum: float | None = None


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
        ColumnSpec(BUSINESS_VERSION, "timestamp"),
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
        ColumnSpec("amount", "amount", required=True, maximum=AMOUNT_MAX),
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

CREDIT_EVENTS: Final = TableSpec(
    "credit_events",
    (
        ColumnSpec("business_id", "id", required=True),
        ColumnSpec("event", "choice", required=True, choices=tuple(CREDIT_EVENT_KINDS)),
        ColumnSpec("at", "timestamp", required=True),
    ),
    required_file=False,
)

#: The five tables, in the order they are validated (fx rates and businesses are needed first).
TABLES: Final = {
    spec.name: spec for spec in (FX_RATES, BUSINESSES, TRANSACTIONS, OUTCOMES, CREDIT_EVENTS)
}

# --- Reason codes that are not derived from one column's kind.
BAD_FIELD_COUNT: Final = "bad_field_count"  # a CSV record with more fields than the header
#: A CSV record whose quoted value runs over a line break (nearly always an unbalanced quote):
#: every physical line it covers is rejected with this reason, so no line goes uncounted.
QUOTED_LINE_BREAK: Final = "quoted_line_break"
DUPLICATE_BUSINESS_ID: Final = "duplicate_business_id"  # same id and same updated_at
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
BAD_AMOUNT_BASE: Final = "bad_amount_base"  # amount x rate_to_base is not finite and > 0
DUPLICATE_CREDIT_EVENT: Final = "duplicate_credit_event"  # same (business_id, event, at) twice

#: Prefix of the report's count of kept ids that mix scripts (``mixed_script_business_id``).
MIXED_SCRIPT: Final = "mixed_script"

#: Parts of a column name that mark it as personal data (compared case-insensitively, after
#: splitting camelCase and on non-letters): such extra columns are hashed, never carried raw.
PERSONAL_NAME_WORDS: Final = frozenset(
    {
        "phone", "telephone", "tel", "mobile", "cell", "fax", "msisdn", "email", "mail",
        "address", "addr", "street", "postcode", "postal", "zip", "zipcode", "iban", "bic",
        "swift", "bank",
        "account", "card", "pan", "device", "imei", "ip", "owner", "tax", "vat", "ssn", "nin",
        "passport", "licence", "license", "name", "surname", "firstname", "lastname",
        "fullname", "birth", "dob", "birthday", "contact", "person", "national",
    }
)  # fmt: skip
#: The same words found inside a longer lower-case name (``contactemail``, ``ownerphone``).
_PERSONAL_INFIXES: Final = ("phone", "mobile", "email", "address", "iban", "passport", "ssn")
_NAME_PARTS: Final = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def looks_personal(column: str) -> bool:
    """Whether an extra column's name suggests personal data (``Phone``, ``e-mail``,
    ``ownerName``, ``bank_account_2``): such columns are hashed, never carried raw."""
    words = {part.lower() for part in _NAME_PARTS.findall(column)}
    if words & PERSONAL_NAME_WORDS:
        return True
    folded = column.casefold()
    return any(infix in folded for infix in _PERSONAL_INFIXES)


def column_reasons(column: ColumnSpec) -> list[str]:
    """Reason codes a column of this kind can produce, in the order they are checked."""
    name = column.name
    empty = [f"empty_{name}"] if column.required else []
    by_kind: dict[str, list[str]] = {
        "id": [f"empty_{name}", f"control_char_{name}", f"too_long_{name}"],
        "text": [*empty, f"too_long_{name}"],
        "choice": ([f"empty_{name}"] if column.default is None else []) + [f"unknown_{name}"],
        "timestamp": [*empty, f"bad_{name}", f"out_of_range_{name}"],
        "date": [*empty, f"bad_{name}", f"out_of_range_{name}"],
        "amount": [f"empty_{name}", f"bad_{name}", f"not_positive_{name}"]
        + ([f"too_large_{name}"] if column.maximum is not None else []),
        "number": [f"bad_{name}", f"negative_{name}"],
        "count": [f"bad_{name}", f"negative_{name}"],
        "label": [f"bad_{name}"],
        "currency": [*empty, f"too_long_{name}"],
        "identifier": [f"too_long_{name}"],
    }
    return by_kind[column.kind]


def all_reasons(table: TableSpec) -> list[str]:
    """Every reason code a table's rows can be rejected with (for docs and tests)."""
    extra: dict[str, list[str]] = {
        "businesses": [DUPLICATE_BUSINESS_ID],
        "transactions": [
            DUPLICATE_TXN_ID,
            NO_FX_RATE,
            BAD_AMOUNT_BASE,
            UNKNOWN_SELLER,
            UNKNOWN_BUYER,
            BUYER_IS_SELLER,
        ],
        "outcomes": [NO_LABEL, DUPLICATE_OUTCOME, UNKNOWN_BUSINESS],
        "fx_rates": [DUPLICATE_CURRENCY, BASE_RATE_NOT_ONE],
        "credit_events": [DUPLICATE_CREDIT_EVENT, UNKNOWN_BUSINESS],
    }
    reasons = [QUOTED_LINE_BREAK, BAD_FIELD_COUNT]
    for column in table.columns:
        reasons += column_reasons(column)
    return reasons + extra[table.name]


# --- Pandera schemas of the frames the reader hands to other packages (loaders/columns.py).
_UTC_TS = pa.Column("datetime64[us, UTC]", pa.Check.in_range(TIME_MIN, TIME_MAX), nullable=False)
_ID = pa.Column(str, checks=pa.Check.str_length(1, ID_MAX_LENGTH), nullable=False)
_TEXT = pa.Check.str_length(1, TEXT_MAX_LENGTH)

BUSINESS_SCHEMA: Final = pa.DataFrameSchema(
    {
        "business_id": _ID,
        "kind": pa.Column(str, pa.Check.isin(BUSINESS_KINDS)),
        "registered_at": _UTC_TS,
        "region": pa.Column(str, _TEXT),
        "industry": pa.Column(str, _TEXT),
        "employees": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "declared_revenue": pa.Column(float, pa.Check.ge(0), nullable=True),
        BUSINESS_VERSION: _UTC_TS,
    },
    unique=["business_id", BUSINESS_VERSION],
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
        "amount": pa.Column(float, [pa.Check.gt(0), pa.Check.le(AMOUNT_MAX)]),
        "currency": pa.Column(str, _TEXT),
        "amount_base": pa.Column(float, [pa.Check.gt(0), pa.Check(lambda s: np.isfinite(s))]),
        "status": pa.Column(str, pa.Check.isin(ORDER_STATUSES)),
        "status_at": _UTC_TS,
        "category": pa.Column(str, pa.Check.str_length(max_value=TEXT_MAX_LENGTH), nullable=True),
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

CREDIT_EVENT_SCHEMA: Final = pa.DataFrameSchema(
    {
        "business_id": _ID,
        "event": pa.Column(str, pa.Check.isin(CREDIT_EVENT_KINDS)),
        "at": _UTC_TS,
    },
    unique=CREDIT_EVENT_COLUMNS,
    ordered=True,
    strict=False,
)

assert list(BUSINESS_SCHEMA.columns) == [*BUSINESS_COLUMNS, BUSINESS_VERSION]
assert list(CREDIT_EVENT_SCHEMA.columns) == CREDIT_EVENT_COLUMNS
assert list(IDENTIFIER_SCHEMA.columns) == IDENTIFIER_COLUMNS
assert list(ORDER_SCHEMA.columns) == ORDER_COLUMNS
assert list(OUTCOME_SCHEMA.columns) == OUTCOME_COLUMNS
