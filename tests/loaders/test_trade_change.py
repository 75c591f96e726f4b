"""The pre-training target: trade in the quarter after a date against the quarter before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loaders.trade_change import trade_change

UTC = "UTC"


def _orders(rows: list[tuple[str, str, str, float, str]]) -> pd.DataFrame:
    seller, buyer, ts, amount, status = zip(*rows, strict=True)
    return pd.DataFrame(
        {"seller_id": seller, "buyer_id": buyer, "ts": pd.to_datetime(ts, utc=True),
         "amount_base": amount, "status": status}
    )  # fmt: skip


def test_trade_change_compares_sales_and_purchases_after_the_date_with_before() -> None:
    orders = _orders(
        [
            ("a", "b", "2023-12-01", 50.0, "completed"),  # before: a sold, b bought
            ("a", "b", "2024-01-10", 100.0, "completed"),  # after
            ("b", "a", "2024-02-01", 30.0, "cancelled"),  # after, counts 0
            ("c", "a", "2024-05-01", 999.0, "completed"),  # after the 90-day window
            ("c", "a", "2023-09-01", 999.0, "completed"),  # before the 90-day window
        ]
    )
    change = trade_change(orders, pd.Index(["a", "b", "c", "d"]), "2024-01-01",
                          known_until="2024-06-01")  # fmt: skip
    assert change is not None
    expected = {
        "a": np.log1p(100.0) - np.log1p(50.0),
        "b": np.log1p(100.0) - np.log1p(50.0),
        "c": 0.0,
        "d": 0.0,
    }
    assert change.to_dict() == pytest.approx(expected)


def test_trade_change_does_not_exist_before_its_window_is_complete() -> None:
    orders = _orders([("a", "b", "2024-01-10", 100.0, "completed")])
    ids = pd.Index(["a"])
    assert trade_change(orders, ids, "2024-01-01", known_until="2024-03-30") is None
    assert trade_change(orders, ids, "2024-01-01", known_until="2024-03-31") is not None
