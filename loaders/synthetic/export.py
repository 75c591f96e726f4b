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
    ``credit_events``: CREDIT_EVENT_COLUMNS, ``at`` tz-aware UTC (None when switched off).
    ``business_versions``: later versions of some businesses (``businesses``' columns plus
    ``updated_at``); ``businesses`` keeps each business's first version. None when off.
    """

    businesses: pd.DataFrame
    transactions: pd.DataFrame
    outcomes: pd.DataFrame
    ground_truth: pd.DataFrame
    fx_rates: pd.DataFrame
    as_of_dates: list[pd.Timestamp]
    base_currency: str = "USD"
    shocks: list[dict[str, object]] = field(default_factory=list)
    credit_events: pd.DataFrame | None = None
    business_versions: pd.DataFrame | None = None


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


def all_versions(market: SyntheticMarketplace) -> pd.DataFrame:
    """Every version of every business (raw identifiers), with ``updated_at``: the first
    versions dated at registration, then ``business_versions``; sorted by id and time."""
    first = market.businesses.assign(updated_at=market.businesses["registered_at"])
    if market.business_versions is None or market.business_versions.empty:
        return first
    later = market.business_versions[first.columns]
    both = pd.concat([first, later], ignore_index=True)
    both["employees"] = both["employees"].astype("Int64")
    return both.sort_values(["business_id", "updated_at"], ignore_index=True)


def to_contract_frames(
    market: SyntheticMarketplace, key: str, *, versions: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(businesses, identifiers, orders, outcomes) in the column contracts of ``loaders.columns``,
    identifiers hashed with ``key`` (long format, one row per present identifier).

    With ``versions``, businesses hold every version (one row per ``business_id`` and
    ``updated_at``) and identifiers say which version carried them (an ``updated_at``
    column): the frames ``graph.load.load_frames`` loads as versions.
    """
    source = all_versions(market) if versions else market.businesses
    extra = ["updated_at"] if versions else []
    businesses = source[[*BUSINESS_COLUMNS, *extra]].reset_index(drop=True)

    long = source[["business_id", *extra, *IDENTIFIER_TYPES]].melt(
        id_vars=["business_id", *extra], var_name="id_type", value_name="raw"
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
            **{column: long[column].to_numpy() for column in extra},
        }
    )[[*IDENTIFIER_COLUMNS, *extra]].reset_index(drop=True)

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
    """Write businesses, transactions, outcomes, fx_rates, credit_events (when generated) and
    ground_truth as ``fmt`` files. With ``business_versions``, businesses holds every version
    and an ``updated_at`` column (the first version dated at registration).

    CSV: dates ISO 8601 (``YYYY-MM-DD``), timestamps ISO 8601 with a ``Z``. Parquet: UTC
    timestamp columns. Returns the paths written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    as_text = _dates_as_text if fmt == "csv" else _native_dates
    versioned = market.business_versions is not None and not market.business_versions.empty
    businesses = (
        as_text(
            all_versions(market)[[*BUSINESS_EXPORT_COLUMNS, "updated_at"]],
            {"registered_at": "%Y-%m-%d", "updated_at": iso},
        )
        if versioned
        else as_text(market.businesses[BUSINESS_EXPORT_COLUMNS], {"registered_at": "%Y-%m-%d"})
    )
    tables = {
        "businesses": businesses,
        "transactions": as_text(
            market.transactions[TRANSACTION_EXPORT_COLUMNS], {"ts": iso, "status_at": iso}
        ),
        "outcomes": as_text(market.outcomes, {"as_of": "%Y-%m-%d"}),
        "fx_rates": market.fx_rates,
        "ground_truth": as_text(market.ground_truth, {"as_of": "%Y-%m-%d", "failed_at": iso}),
    }
    if market.credit_events is not None:
        tables["credit_events"] = as_text(market.credit_events, {"at": iso})
    paths = []
    for name, table in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            table.to_csv(path, index=False, lineterminator="\n")
        else:
            table.to_parquet(path, index=False)
        paths.append(path)
    return paths
