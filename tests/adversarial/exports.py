"""Small valid exports written by code (never stored files), for the adversarial probes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

KEY = b"adversarial-test-key"
BUSINESSES = 10


def businesses(n: int = BUSINESSES) -> pd.DataFrame:
    """``n`` valid businesses B000..; all values strings."""
    return pd.DataFrame(
        {
            "business_id": [f"B{i:03d}" for i in range(n)],
            "registered_at": "2023-01-15",
            "region": "ON",
            "industry": "timber",
            "phone": [f"+1 555 010{i:02d}" for i in range(n)],
        },
        dtype="str",
    )


def transactions(n: int = 20) -> pd.DataFrame:
    """``n`` valid orders T0000.. between the businesses; all values strings."""
    return pd.DataFrame(
        {
            "txn_id": [f"T{i:04d}" for i in range(n)],
            "buyer_id": [f"B{i % BUSINESSES:03d}" for i in range(n)],
            "seller_id": [f"B{(i + 1) % BUSINESSES:03d}" for i in range(n)],
            "ts": "2024-03-01T10:00:00Z",
            "amount": "100.50",
            "currency": "",
            "status": "completed",
            "category": "cat",
        },
        dtype="str",
    )


def write(folder: Path, tables: dict[str, pd.DataFrame], *, fmt: str = "csv") -> Path:
    """Write the tables (default businesses/transactions filled in) as ``fmt`` files."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"businesses": businesses(), "transactions": transactions(), **tables}
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:  # numbers as numbers; other columns stay strings
            numbers = [c for c in ("amount", "rate_to_base") if c in frame.columns]
            frame = frame.astype({c: "float64" for c in numbers})
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def rejects(folder: Path, table: str) -> pd.DataFrame:
    """A rejects file as strings (``line`` as int)."""
    frame = pd.read_csv(folder / f"{table}.rejects.csv", dtype="str", keep_default_na=False)
    frame["line"] = frame["line"].astype(int)
    return frame
