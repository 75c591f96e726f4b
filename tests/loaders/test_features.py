"""Point-in-time features: hand-computed values on a tiny frame, and no leakage from the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loaders.columns import BUSINESS_COLUMNS, IDENTIFIER_COLUMNS, ORDER_COLUMNS
from loaders.features import (
    COUNTERPARTY_FEATURES,
    OWN_FEATURES,
    compute_features,
)

AS_OF = pd.Timestamp("2024-01-01", tz="UTC")


def _day(days_before: float) -> pd.Timestamp:
    return AS_OF - pd.Timedelta(days=days_before)


def _businesses() -> pd.DataFrame:
    rows = [
        ("A", "sme", _day(400), "CA", "retail", 5, 100_000.0),
        ("B", "sme", _day(400), "CA", "wholesale", None, None),
        ("C", "enterprise", _day(60), "TX", "retail", 500, 9e6),
        ("LATE", "sme", AS_OF, "TX", "retail", 1, 1.0),  # registered on as_of: excluded
    ]
    frame = pd.DataFrame(rows, columns=BUSINESS_COLUMNS)
    frame["employees"] = frame["employees"].astype("Int64")
    return frame


def _order(txn: str, seller: str, buyer: str, days_before: float, amount: float,
           status: str = "completed", status_days_before: float | None = None) -> dict:  # fmt: skip
    ts = _day(days_before)
    status_at = ts if status_days_before is None else _day(status_days_before)
    return dict(txn_id=txn, seller_id=seller, buyer_id=buyer, ts=ts, amount=amount,
                currency="USD", amount_base=amount, status=status, status_at=status_at,
                category=None)  # fmt: skip


def _orders() -> pd.DataFrame:
    rows = [
        _order("t1", "B", "A", 10, 100.0),
        _order("t2", "B", "A", 40, 200.0, "refunded", 35),
        _order("t3", "B", "A", 100, 300.0, "cancelled", 100),
        _order("t4", "B", "C", 20, 600.0),
        _order("t5", "A", "C", 5, 50.0, "disputed", -1),
        _order("t6", "B", "A", 200, 1000.0),
    ]
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def test_columns_index_and_types() -> None:
    feats = compute_features(_businesses(), _orders(), AS_OF)
    assert list(feats.columns) == OWN_FEATURES + COUNTERPARTY_FEATURES
    assert sorted(feats.index) == ["A", "B", "C"]
    assert feats.index.name == "business_id"
    assert all(dtype == np.float64 for dtype in feats.dtypes)
    assert np.isfinite(feats.to_numpy()).all()


def test_hand_computed_values() -> None:
    f = compute_features(_businesses(), _orders(), AS_OF)
    b, a, c = f.loc["B"], f.loc["A"], f.loc["C"]
    # B sells t1 (10d), t2 (40d, refunded), t3 (100d, cancelled), t4 (20d), t6 (200d).
    assert b["seller_orders_30d"] == 2
    assert b["seller_orders_90d"] == 3
    assert b["seller_orders_365d"] == 5
    assert b["seller_gmv_30d"] == pytest.approx(np.log1p(700.0))
    assert b["seller_gmv_365d"] == pytest.approx(np.log1p(1900.0))  # cancelled t3 excluded
    assert b["seller_gmv_growth"] == pytest.approx(np.log1p(900.0) - np.log1p(0.0))
    assert b["seller_refund_rate"] == pytest.approx(1 / 5)
    assert b["seller_cancel_rate"] == pytest.approx(1 / 5)
    assert b["seller_counterparties"] == 2
    share_a, share_c = 1300.0 / 1900.0, 600.0 / 1900.0
    assert b["seller_hhi"] == pytest.approx(share_a**2 + share_c**2)
    assert b["seller_top_share"] == pytest.approx(share_a)
    gaps = np.array([100.0, 60.0, 20.0, 10.0])  # 200->100->40->20->10 days before
    assert b["seller_gap_cv"] == pytest.approx(gaps.std() / gaps.mean())
    assert b["seller_days_since_last"] == pytest.approx(10.0)
    assert b["buyer_orders_365d"] == 0
    assert b["declared_missing"] == 1.0
    # A: a seller once (t5, disputed 1 day after as_of => still completed at as_of).
    assert a["seller_dispute_rate"] == 0.0
    assert a["buyer_orders_365d"] == 4
    assert a["tenure_days"] == pytest.approx(400.0)
    assert a["is_thin_file"] == 0.0
    assert c["is_thin_file"] == 1.0
    assert c["is_enterprise"] == 1.0
    assert c["log_employees"] == pytest.approx(np.log1p(500))
    # B's buyers are A (GMV 1300) and C (600): weighted mean of their tenure.
    expected = share_a * 400.0 + share_c * 60.0
    assert b["buyers_wmean_tenure_days"] == pytest.approx(expected)
    # A's only supplier is B.
    assert a["suppliers_wmean_seller_refund_rate"] == pytest.approx(1 / 5)
    assert a["buyers_wmean_tenure_days"] == pytest.approx(60.0)


def test_status_is_taken_as_of_the_score_date() -> None:
    later = compute_features(_businesses(), _orders(), AS_OF + pd.Timedelta(days=2))
    assert later.loc["A", "seller_dispute_rate"] == pytest.approx(1.0)


def test_orders_and_status_changes_on_or_after_as_of_change_nothing() -> None:
    businesses, orders = _businesses(), _orders()
    before = compute_features(businesses, orders, AS_OF)
    planted = pd.DataFrame(
        [
            _order("f1", "A", "B", 0, 5_000.0),  # exactly at as_of
            _order("f2", "B", "C", -30, 7_000.0, "cancelled", -31),
            _order("f3", "LATE", "A", -5, 100.0),
        ],
        columns=ORDER_COLUMNS,
    )
    changed = orders.copy()
    # An order placed before as_of that is refunded after it.
    changed.loc[changed["txn_id"] == "t1", ["status", "status_at"]] = ["refunded", _day(-3)]
    after = compute_features(businesses, pd.concat([changed, planted]), AS_OF)
    pd.testing.assert_frame_equal(before, after)


def test_identifier_sharing_ignores_hubs() -> None:
    businesses = pd.DataFrame(
        [(f"X{i}", "sme", _day(100), "CA", "retail", 1, 1.0) for i in range(6)],
        columns=BUSINESS_COLUMNS,
    )
    rows = [("X0", "phone", "p1"), ("X1", "phone", "p1"), ("X1", "owner_id", "o1"),
            ("X2", "owner_id", "o1")]  # fmt: skip
    rows += [(f"X{i}", "address", "warehouse") for i in range(6)]  # a hub at threshold 3
    identifiers = pd.DataFrame(rows, columns=IDENTIFIER_COLUMNS)
    feats = compute_features(
        businesses,
        pd.DataFrame(columns=ORDER_COLUMNS).astype(
            {"ts": "datetime64[ns, UTC]", "status_at": "datetime64[ns, UTC]", "amount_base": float}
        ),
        AS_OF,
        identifiers=identifiers,
        hub_threshold=3,
    )
    assert feats.loc["X1", "shared_id_businesses"] == 2
    assert feats.loc["X1", "shared_id_types"] == 2
    assert feats.loc["X0", "shared_id_businesses"] == 1
    assert feats.loc["X5", "shared_id_businesses"] == 0
    assert feats.loc["X5", "max_identifier_degree"] == pytest.approx(np.log1p(6))


def test_distress_signals_and_their_trade_share_aggregates() -> None:
    f = compute_features(_businesses(), _orders(), AS_OF)
    # Year activity for declared size: A trades 1,350 (t5 still completed at as_of) on 100k
    # over 400 days; C trades 650 in 60 days (annualised x 365/60) on 9M. B declares nothing.
    assert f.loc["A", "activity_to_size"] == pytest.approx(np.log1p(1350.0) - np.log1p(100_000))
    annual_c = 650.0 * 365.0 / 60.0
    assert f.loc["C", "activity_to_size"] == pytest.approx(np.log1p(annual_c) - np.log1p(9e6))
    assert f.loc["B", "activity_to_size"] == 0.0
    assert (f["silent"] == 0.0).all()
    # Distress scores: C has the lowest activity for its size (percentile 1.0, distressed),
    # A 0.5, B 0.5 (no declared size). B sells 1,300 to A and 600 to C over the year.
    share_a, share_c = 1300.0 / 1900.0, 600.0 / 1900.0
    b = f.loc["B"]
    assert b["buyers_share_distressed"] == pytest.approx(share_c)
    assert b["buyers_wmean_distress"] == pytest.approx(share_a * 0.5 + share_c * 1.0)
    assert b["buyers_max_distress"] == pytest.approx(1.0)
    assert b["buyers_share_distressed_90d"] == pytest.approx(600.0 / 900.0)  # t1, t2, t4
    # Two hops: A's only buyer C is distressed (share 1); C has no buyers.
    assert f.loc["A", "buyers_share_distressed"] == pytest.approx(1.0)
    assert b["buyers_share_distressed_2hop"] == pytest.approx(share_a)
    assert f.loc["A", "suppliers_wmean_distress"] == pytest.approx(0.5)
    assert f.loc["A", "suppliers_share_distressed"] == 0.0


def _silent_market() -> tuple[pd.DataFrame, pd.DataFrame]:
    businesses = pd.DataFrame(
        [(name, "sme", _day(500), "CA", "retail", 5, 100_000.0) for name in ("S", "Q", "R")],
        columns=BUSINESS_COLUMNS,
    )
    businesses["employees"] = businesses["employees"].astype("Int64")
    rows = [_order(f"q{d}", "S", "Q", d, 100.0) for d in range(300, 119, -20)]  # 10 orders
    rows += [_order("r1", "S", "R", 5, 1000.0)]
    return businesses, pd.DataFrame(rows, columns=ORDER_COLUMNS)


def test_a_buyer_that_stopped_trading_is_silent_and_its_supplier_is_exposed() -> None:
    businesses, orders = _silent_market()
    f = compute_features(businesses, orders, AS_OF)
    # Q ordered every 20 days until 120 days ago: quiet for > 3 usual gaps (and > 45 days).
    assert f.loc["Q", "silent"] == 1.0
    assert f.loc["R", "silent"] == 0.0  # a single order is too little history to judge
    assert f.loc["S", "buyers_share_silent"] == pytest.approx(1000.0 / 2000.0)
    assert f.loc["S", "buyers_share_distressed"] >= f.loc["S", "buyers_share_silent"]
    assert f.loc["S", "buyers_max_distress"] == 1.0


def test_orders_after_as_of_do_not_wake_a_silent_buyer() -> None:
    businesses, orders = _silent_market()
    before = compute_features(businesses, orders, AS_OF)
    planted = pd.DataFrame(
        [_order("late1", "S", "Q", 0, 900.0), _order("late2", "R", "Q", -10, 50.0, "disputed")],
        columns=ORDER_COLUMNS,
    )
    after = compute_features(businesses, pd.concat([orders, planted]), AS_OF)
    pd.testing.assert_frame_equal(before, after)
    assert after.loc["Q", "silent"] == 1.0


def test_counterparties_known_defaults_weigh_by_trade_share_and_stop_at_as_of() -> None:
    events = pd.DataFrame(
        {
            "business_id": ["A", "C", "C"],
            "event": ["defaulted", "defaulted", "fraud_confirmed"],
            "at": [_day(30), AS_OF, _day(200)],  # C's default is on the score date: unknown
        }
    )
    f = compute_features(_businesses(), _orders(), AS_OF, credit_events=events)
    share_a = 1300.0 / 1900.0  # B's 365-day sales to A (cancelled t3 excluded) over all
    assert f.loc["B", "buyers_share_defaulted_90d"] == pytest.approx(share_a)
    assert f.loc["B", "buyers_share_defaulted_365d"] == pytest.approx(share_a)
    assert f.loc["A", "known_default_365d"] == 1.0 and f.loc["C", "known_default_365d"] == 0.0
    assert f.loc["C", "known_fraud_365d"] == 1.0
    assert f.loc["A", "suppliers_share_defaulted_365d"] == 0.0  # B, its supplier, is fine
    without = compute_features(_businesses(), _orders(), AS_OF)
    assert (without[["known_default_365d", "buyers_share_defaulted_365d"]] == 0).all().all()
    older = events.assign(at=[_day(200), AS_OF, _day(200)])  # A defaulted 200 days ago
    g = compute_features(_businesses(), _orders(), AS_OF, credit_events=older)
    assert g.loc["B", "buyers_share_defaulted_90d"] == 0.0
    assert g.loc["B", "buyers_share_defaulted_365d"] == pytest.approx(share_a)


def test_counterparty_window_decides_who_counts_and_with_what_share() -> None:
    events = pd.DataFrame({"business_id": ["A"], "event": ["defaulted"], "at": [_day(30)]})
    month = compute_features(
        _businesses(), _orders(), AS_OF, credit_events=events, counterparty_days=30
    )
    # In the last 30 days B sold 100 to A (t1) and 600 to C (t4).
    assert month.loc["B", "buyers_share_defaulted_365d"] == pytest.approx(100.0 / 700.0)
    year = compute_features(_businesses(), _orders(), AS_OF, credit_events=events)
    assert year.loc["B", "buyers_share_defaulted_365d"] == pytest.approx(1300.0 / 1900.0)
