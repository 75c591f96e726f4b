"""Small valid exports, built in the tests themselves (raw string frames written as CSV/Parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

KEY = b"test-key-not-secret"
#: Businesses B0000..B0039 trade; B0040..B0049 exist but never trade (safe to corrupt).
TRADING = 40
BUSINESSES = 50


def raw_businesses() -> pd.DataFrame:
    """Valid businesses, all values strings; identifiers obviously fake and distinctive."""
    rows = []
    for i in range(BUSINESSES):
        rows.append(
            {
                "business_id": f"B{i:04d}",
                "kind": ["sme", "consumer", "enterprise", ""][i % 4],
                "registered_at": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "region": ["ON", "QC", "BC"][i % 3],
                "industry": ["timber", "furniture", "retail"][i % 3],
                "employees": "" if i % 5 == 0 else str(i),
                "declared_revenue": "" if i % 7 == 0 else f"{1000 * i}.5",
                "phone": f"+1 555 01{i:04d}",
                "device_id": f"RAWDEV-{i:04d}",
                "address": f"{i} Rawvalue Street, Faketown",
                "bank_account": f"RAWBANK {i:04d}",
                "owner_id": f"RAWOWNER-{i % 45:04d}",
            }
        )
    return pd.DataFrame(rows, dtype="str")


def raw_transactions(n: int = 60) -> pd.DataFrame:
    rows = []
    for i in range(n):
        seller = i % TRADING
        buyer = (i * 7 + 3) % TRADING
        if buyer == seller:
            buyer = (buyer + 1) % TRADING
        rows.append(
            {
                "txn_id": f"T{i:06d}",
                "buyer_id": f"B{buyer:04d}",
                "seller_id": f"B{seller:04d}",
                "ts": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:00"
                + ["", "Z", "+02:00"][i % 3],
                "amount": f"{10 + i * 3.25:.2f}",
                "currency": ["", "USD", "CAD"][i % 3],
                "status": ["completed", "refunded", "disputed", "cancelled"][i % 4],
                "status_at": "" if i % 4 == 0 else f"2024-12-{1 + i % 28:02d}T00:00:00Z",
                "category": "" if i % 6 == 0 else "cat",
            }
        )
    return pd.DataFrame(rows, dtype="str")


def raw_outcomes() -> pd.DataFrame:
    rows = [
        {
            "business_id": f"B{i:04d}",
            "as_of": "2024-07-01",
            "defaulted": ["0", "1", ""][i % 3],
            "fraud": ["", "0", "1"][i % 3],
        }
        for i in range(0, TRADING, 2)
    ]
    return pd.DataFrame(rows, dtype="str")


def raw_fx() -> pd.DataFrame:
    return pd.DataFrame({"currency": ["CAD", "EUR"], "rate_to_base": ["0.75", "1.1"]}, dtype="str")


def write_export(
    folder: Path,
    tables: dict[str, pd.DataFrame] | None = None,
    *,
    fmt: str = "csv",
) -> Path:
    """Write the given (or default valid) raw tables into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = tables or {
        "businesses": raw_businesses(),
        "transactions": raw_transactions(),
        "outcomes": raw_outcomes(),
        "fx_rates": raw_fx(),
    }
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder
