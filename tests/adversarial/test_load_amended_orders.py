"""Re-sent orders (contract v2): only status and status_at may change.

Probe that failed: a later export re-sending a txn_id with another amount or timestamp
silently overwrote the stored order. Now such a row is rejected as ``amended_order`` (written
to the rejects with what it tried to change), the stored order stays, a changed status is
applied as before, and the counts reconcile.
"""

from __future__ import annotations

import csv
from pathlib import Path

import neo4j
import pandas as pd
import pytest

from graph.load import AMENDED_ORDER, AMENDED_REJECTS_FILE, graph_counts, load_export
from graph.session import read_frame

pytestmark = pytest.mark.neo4j

KEY = b"adversarial-test-key"
BUSINESSES = [
    ("S1", "sme", "2024-01-01", "R1", "tools"),
    ("S2", "sme", "2024-01-01", "R1", "tools"),
    ("B1", "sme", "2024-01-01", "R2", "food"),
    ("B2", "sme", "2024-01-01", "R2", "food"),
]
ORDERS = {
    "T1": ("B1", "S1", "2024-03-01T10:00:00Z", "100.00", "USD", "completed", ""),
    "T2": ("B1", "S1", "2024-03-02T10:00:00Z", "50.00", "USD", "completed", ""),
    "T3": ("B2", "S2", "2024-03-03T10:00:00Z", "70.00", "USD", "completed", ""),
    "T4": ("B2", "S2", "2024-03-04T10:00:00Z", "30.00", "USD", "completed", ""),
    "T5": ("B2", "S2", "2024-03-05T10:00:00Z", "20.00", "USD", "completed", ""),
    "T6": ("B2", "S2", "2024-03-06T10:00:00Z", "10.00", "USD", "completed", ""),
}


def _export(folder: Path, orders: dict[str, tuple[str, ...]]) -> Path:
    folder.mkdir()
    with (folder / "businesses.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["business_id", "kind", "registered_at", "region", "industry"])
        out.writerows(BUSINESSES)
    with (folder / "transactions.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["txn_id", "buyer_id", "seller_id", "ts", "amount", "currency", "status", "status_at"]
        )
        out.writerows((txn, *row) for txn, row in orders.items())
    return folder


def _stored(driver: neo4j.Driver) -> dict[str, dict]:
    frame = read_frame(
        driver,
        "MATCH (s)-[r:SOLD_TO]->(b) RETURN r.txn_id AS txn_id, s.business_id AS seller, "
        "b.business_id AS buyer, r.amount AS amount, r.currency AS currency, "
        "toString(r.ts) AS ts, r.status AS status",
    )
    return {row.pop("txn_id"): row for row in frame.to_dict("records")}


def test_a_re_sent_order_with_changed_terms_is_rejected_and_the_original_stays(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    load_export(neo4j_driver, _export(tmp_path / "first", ORDERS), KEY)
    before = _stored(neo4j_driver)

    resent = dict(ORDERS)
    resent["T1"] = ("B1", "S1", "2024-03-01T10:00:00Z", "999.00", "USD", "completed", "")
    resent["T2"] = ("B1", "S1", "2024-03-02T11:00:00Z", "50.00", "USD", "completed", "")
    resent["T3"] = ("B1", "S2", "2024-03-03T10:00:00Z", "70.00", "USD", "completed", "")
    resent["T4"] = ("B2", "S1", "2024-03-04T10:00:00Z", "30.00", "USD", "completed", "")
    resent["T5"] = ("B2", "S2", "2024-03-05T10:00:00Z", "20.00", "EUR", "completed", "")
    resent["T6"] = ("B2", "S2", "2024-03-06T10:00:00Z", "10.00", "USD", "refunded", "2024-04-01")
    second = _export(tmp_path / "second", resent)
    (second / "fx_rates.csv").write_text("currency,rate_to_base\nEUR,1.0\n")
    rejects = tmp_path / "rejects"
    result = load_export(neo4j_driver, second, KEY, rejects_dir=rejects)

    orders = result.tables["orders"]
    assert (orders.read, orders.rejected, orders.updated, orders.unchanged) == (6, 5, 1, 0)
    assert result.reconciles
    after = _stored(neo4j_driver)
    for txn in ("T1", "T2", "T3", "T4", "T5"):
        assert after[txn] == before[txn], txn  # the original stays
    assert after["T6"]["status"] == "refunded"  # a status change is still applied

    written = pd.read_csv(rejects / AMENDED_REJECTS_FILE, dtype=str, keep_default_na=False)
    assert set(written["reason"]) == {AMENDED_ORDER}
    assert dict(zip(written["txn_id"], written["changed"], strict=True)) == {
        "T1": "amount",
        "T2": "ts",
        "T3": "buyer_id",
        "T4": "seller_id",
        "T5": "currency",
    }
    assert written.set_index("txn_id").loc["T1", "amount"] == "999.0"

    run = read_frame(
        neo4j_driver,
        "MATCH (r:LoadRun) WHERE r.orders_amended > 0 RETURN r.orders_read AS read, "
        "r.orders_rejected AS rejected, r.orders_updated AS updated, "
        "r.orders_unchanged AS unchanged, r.orders_inserted AS inserted, "
        "r.orders_amended AS amended",
    ).to_dict("records")
    assert run == [
        {"read": 6, "rejected": 5, "updated": 1, "unchanged": 0, "inserted": 0, "amended": 5}
    ]
    pairs = read_frame(
        neo4j_driver,
        "MATCH (s)-[t:TRADES_WITH]->(b) RETURN s.business_id AS s, b.business_id AS b, "
        "t.orders AS orders, t.gmv AS gmv, t.refunded AS refunded ORDER BY s, b",
    ).to_dict("records")
    assert pairs == [
        {"s": "S1", "b": "B1", "orders": 2, "gmv": 150.0, "refunded": 0},
        {"s": "S2", "b": "B2", "orders": 4, "gmv": 130.0, "refunded": 1},
    ]
    assert graph_counts(neo4j_driver)["orders"] == 6


def test_re_sending_the_same_orders_rejects_nothing(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    load_export(neo4j_driver, _export(tmp_path / "first", ORDERS), KEY)
    rejects = tmp_path / "rejects"
    again = load_export(neo4j_driver, _export(tmp_path / "again", ORDERS), KEY, rejects_dir=rejects)
    assert again.tables["orders"].unchanged == 6
    assert again.amended_orders.empty
    assert not (rejects / AMENDED_REJECTS_FILE).exists()
