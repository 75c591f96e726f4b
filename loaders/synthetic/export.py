"""Turn the simulation into contract frames, hashed column-contract frames, and files on disk."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from loaders.columns import (
    BUSINESS_COLUMNS,
    IDENTIFIER_COLUMNS,
    IDENTIFIER_TYPES,
    ORDER_COLUMNS,
    OUTCOME_COLUMNS,
)

#: Raw export column order of each table (data-contract.md).
BUSINESS_EXPORT_COLUMNS = [*BUSINESS_COLUMNS, *IDENTIFIER_TYPES]
TRANSACTION_EXPORT_COLUMNS = [
    "txn_id", "buyer_id", "seller_id", "ts", "amount", "currency", "status", "status_at",
    "category",
]  # fmt: skip
FORMATS = ("csv", "parquet")


@dataclass
class SyntheticMarketplace:
    """A generated marketplace in the contract's raw form (identifiers not yet hashed).

    ``businesses``: BUSINESS_COLUMNS + the five raw identifier columns (None where missing).
    ``transactions``: TRANSACTION_EXPORT_COLUMNS, ``ts``/``status_at`` tz-aware UTC.
    ``outcomes``: OUTCOME_COLUMNS with ``as_of`` as UTC midnight timestamps.
    ``ground_truth``: one row per (business, as_of): latent state, rings, groups; never a feature.
    ``fx_rates``: currency, rate_to_base for the foreign currencies the orders use.
    """

    businesses: pd.DataFrame
    transactions: pd.DataFrame
    outcomes: pd.DataFrame
    ground_truth: pd.DataFrame
    fx_rates: pd.DataFrame
    as_of_dates: list[pd.Timestamp]
    base_currency: str = "USD"
    shocks: list[dict[str, object]] = field(default_factory=list)


def normalise_identifier(id_type: str, value: str) -> str:
    """Light normalisation before hashing: phones to digits with country code, text case- and
    space-folded. (The validator's normaliser may be stricter; hashes here are for tests and
    benchmarks that skip the CSV round trip.)"""
    if id_type == "phone":
        digits = re.sub(r"\D", "", value)
        return "+" + (digits if len(digits) > 10 else "1" + digits)
    return " ".join(value.casefold().split())


def hash_identifier(key: str, id_type: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``id_type:normalised value`` under ``key``."""
    message = f"{id_type}:{normalise_identifier(id_type, value)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def to_contract_frames(
    market: SyntheticMarketplace, key: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(businesses, identifiers, orders, outcomes) in the column contracts of ``loaders.columns``,
    identifiers hashed with ``key`` (long format, one row per present identifier)."""
    businesses = market.businesses[BUSINESS_COLUMNS].copy()

    long = market.businesses[["business_id", *IDENTIFIER_TYPES]].melt(
        id_vars="business_id", var_name="id_type", value_name="raw"
    )
    long = long[long["raw"].notna()]
    hashes = [
        hash_identifier(key, t, v)
        for t, v in zip(long["id_type"].to_numpy(), long["raw"].to_numpy(), strict=True)
    ]
    identifiers = pd.DataFrame(
        {
            "business_id": long["business_id"].to_numpy(),
            "id_type": long["id_type"].to_numpy(),
            "id_hash": hashes,
        }
    )[IDENTIFIER_COLUMNS].reset_index(drop=True)

    tx = market.transactions
    rates = dict(zip(market.fx_rates["currency"], market.fx_rates["rate_to_base"], strict=True))
    rates[market.base_currency] = 1.0
    orders = tx.copy()
    orders["amount_base"] = tx["amount"].to_numpy() * tx["currency"].map(rates).to_numpy(float)
    orders = orders[ORDER_COLUMNS].reset_index(drop=True)
    return businesses, identifiers, orders, market.outcomes[OUTCOME_COLUMNS].copy()


def _dates_as_text(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    out = frame.copy()
    for col, fmt in columns.items():
        out[col] = out[col].dt.strftime(fmt)
    return out


def _native_dates(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Parquet keeps real timestamp types (UTC); ``columns`` is ignored."""
    return frame


def write_export(market: SyntheticMarketplace, out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write businesses, transactions, outcomes, fx_rates and ground_truth as ``fmt`` files.

    CSV: dates ISO 8601 (``YYYY-MM-DD``), timestamps ISO 8601 with a ``Z``. Parquet: UTC
    timestamp columns. Returns the paths written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    as_text = _dates_as_text if fmt == "csv" else _native_dates
    tables = {
        "businesses": as_text(
            market.businesses[BUSINESS_EXPORT_COLUMNS], {"registered_at": "%Y-%m-%d"}
        ),
        "transactions": as_text(
            market.transactions[TRANSACTION_EXPORT_COLUMNS], {"ts": iso, "status_at": iso}
        ),
        "outcomes": as_text(market.outcomes, {"as_of": "%Y-%m-%d"}),
        "fx_rates": market.fx_rates,
        "ground_truth": as_text(market.ground_truth, {"as_of": "%Y-%m-%d", "failed_at": iso}),
    }
    paths = []
    for name, table in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            table.to_csv(path, index=False, lineterminator="\n")
        else:
            table.to_parquet(path, index=False)
        paths.append(path)
    return paths
