"""Ethereum phishing adapter: tiny fixtures in the real files' format: conversion and counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loaders.options import ExportOptions
from loaders.real import RealDataError, convert_ethereum_phishing
from loaders.real.common import CONFLICTING_LABEL, SELF_LOOP, UNPARSEABLE
from loaders.real.ethereum_phishing import NEGATIVE_AMOUNT, UNLABELLED, ZERO_AMOUNT
from loaders.validate import validate_export

# Same layout as edges.csv: unnamed index column, then from,to,amount(ETH),n_transactions,timestamp.
EDGES = """,from,to,amount,n_transactions,timestamp
0,1,2,16.55,1,1497275319
1,1,3,20.80098167,4,1490158327
2,3,3,5.0,1,1490158400
3,2,4,0.0,2,1490158500
4,4,1,1e-18,1,1546920478
5,4,1,2.5,3,1500000000
6,2,1,-1.0,1,1500000001
7,5,1,abc,1,1500000002
8,5,1,1.0,0,1500000003
"""
# Same layout as nodes_train_test_split.csv: unnamed index, id,label,has_label,is_train,is_test.
NODES = """,id,label,has_label,is_train,is_test
0,1,1.0,True,True,False
1,2,0.0,True,False,True
2,3,,False,False,False
3,4,,False,False,False
4,5,1.0,True,False,False
5,6,0.0,True,True,False
6,7,1.0,True,True,False
7,7,0.0,True,True,False
8,8,2.0,True,True,False
"""


def write_source(folder: Path, edges: str = EDGES, nodes: str = NODES) -> Path:
    """An ethereum-phishing folder holding the two source files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "edges.csv").write_text(edges, encoding="utf-8")
    (folder / "nodes_train_test_split.csv").write_text(nodes, encoding="utf-8")
    return folder


def read_table(out: Path, name: str) -> pd.DataFrame:
    ids = {"business_id": str, "buyer_id": str, "seller_id": str}
    return pd.read_csv(out / f"{name}.csv", dtype=ids)


@pytest.fixture
def converted(tmp_path: Path):
    report = convert_ethereum_phishing(write_source(tmp_path / "src"), tmp_path / "out")
    names = ("businesses", "transactions", "outcomes")
    return report, {name: read_table(tmp_path / "out", name) for name in names}


def test_counts_reconcile_with_drops_by_reason(converted) -> None:
    report, tables = converted
    assert report.source_rows == {"edges.csv": 9, "nodes_train_test_split.csv": 9}
    edges_dropped = report.dropped["edges.csv"]
    assert edges_dropped[SELF_LOOP] == 1
    assert edges_dropped[ZERO_AMOUNT] == 1
    assert edges_dropped[NEGATIVE_AMOUNT] == 1
    assert edges_dropped[UNPARSEABLE] == 2  # amount 'abc', n_transactions 0
    nodes_dropped = report.dropped["nodes_train_test_split.csv"]
    assert nodes_dropped[UNLABELLED] == 2
    assert nodes_dropped[CONFLICTING_LABEL] == 2  # node 7 labelled 1 and 0
    assert sum(nodes_dropped.values()) == 5  # plus node 8's label 2.0
    assert report.written_rows["transactions"] == len(tables["transactions"]) == 4
    assert report.written_rows["outcomes"] == len(tables["outcomes"]) == 4
    assert report.reconciles()


def test_one_order_per_pair_with_total_amount_and_transfer_count(converted) -> None:
    report, tables = converted
    orders = tables["transactions"]
    assert orders["txn_id"].tolist() == ["eth-1", "eth-2", "eth-5", "eth-6"]
    assert orders["txn_id"].is_unique
    assert (orders["buyer_id"] != orders["seller_id"]).all()
    assert (orders["amount"] > 0).all()
    assert orders["amount"].tolist() == [16.55, 20.80098167, 1e-18, 2.5]  # ETH, unchanged
    assert orders["n_transactions"].tolist() == [1, 4, 1, 3]
    assert set(orders["status"]) == {"completed"}
    assert "currency" not in orders.columns  # ETH is this export's base currency
    # sender = buyer; pair 4->1 appears twice and stays two orders
    assert orders[["buyer_id", "seller_id"]].values.tolist() == [
        ["1", "2"], ["1", "3"], ["4", "1"], ["4", "1"],
    ]  # fmt: skip
    assert report.notes["repeated (buyer, seller) pairs kept as separate orders"] == 1
    assert report.notes["source transfers in kept orders (sum of n_transactions)"] == 9
    ts = pd.to_datetime(orders["ts"], utc=True)
    assert ts.iloc[0] == pd.Timestamp(1497275319, unit="s", tz="UTC")


def test_every_listed_node_is_a_business_registered_on_its_first_order(converted) -> None:
    report, tables = converted
    businesses = tables["businesses"].set_index("business_id")
    assert set(businesses.index) == {str(n) for n in range(1, 9)}
    assert set(businesses["kind"]) == {"sme"}
    assert businesses.loc["1", "registered_at"] == "2017-03-22"  # eth-2, before eth-1
    assert businesses.loc["4", "registered_at"] == "2017-07-14"  # eth-6 (1500000000)
    # 5..8 only in the nodes file or in dropped rows: registered at the first order's date
    assert businesses.loc[["5", "6", "7", "8"], "registered_at"].eq("2017-03-22").all()
    assert report.notes["businesses without kept orders (labelled or listed)"] == 4


def test_outcomes_keep_the_given_split(converted) -> None:
    _, tables = converted
    outcomes = tables["outcomes"].set_index("business_id")
    assert outcomes["fraud"].to_dict() == {"1": 1, "2": 0, "5": 1, "6": 0}
    assert outcomes["split"].to_dict() == {
        "1": "train", "2": "test", "5": "unlabelled-not-used", "6": "train",
    }  # fmt: skip
    assert outcomes["defaulted"].isna().all()
    as_of = pd.Timestamp(outcomes["as_of"].unique().item(), tz="UTC")
    last = pd.to_datetime(tables["transactions"]["ts"], utc=True).max()
    assert last < as_of <= last + pd.Timedelta(days=1)


def test_missing_nodes_file_says_what_to_fix(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src")
    (src / "nodes_train_test_split.csv").unlink()
    with pytest.raises(RealDataError, match=r"nodes_train_test_split\.csv.*ethereum-phishing"):
        convert_ethereum_phishing(src, tmp_path / "out")


def test_no_usable_transfer_is_an_error(tmp_path: Path) -> None:
    src = write_source(
        tmp_path / "src", edges=",from,to,amount,n_transactions,timestamp\n0,1,1,1,1,1\n"
    )
    with pytest.raises(RealDataError, match="no usable transfers"):
        convert_ethereum_phishing(src, tmp_path / "out")


def test_export_passes_the_validator_with_zero_rejects(converted, tmp_path: Path) -> None:
    report, _ = converted
    checked = validate_export(
        report.out, b"test-key", rejects_dir=tmp_path / "rejects", options=ExportOptions("ETH")
    )
    assert checked.rejected == 0
    assert {name: table.kept for name, table in checked.tables.items()} == report.written_rows
