"""Bitcoin OTC adapter: tiny fixtures in the real files' format, conversion and reconciliation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from loaders.real import RealDataError, convert_bitcoin_otc
from loaders.real.common import (
    BAD_LABEL,
    CONFLICTING_LABEL,
    DUPLICATE_LABEL,
    REPORT_FILE,
    SELF_LOOP,
    UNPARSEABLE,
)
from loaders.validate import validate_export

# Same layout as soc-sign-bitcoinotc.csv: header, then from,to,feature,time (float unix s).
RATINGS = """from,to,feature,time
6,2,4,1289241911.72836
6,5,-2,1289241941.53378
1,15,1,1289243140.39049
7,7,3,1289300000.5
6,2,10,1289400000.25
2,6,-10,1290000000
1,2,x,1290000001
4,3,7,1290000002,99
9,,5,1290000003
"""
# Same layout as otc_gt.csv: no header, node,label with +1 / -1.
LABELS = """2,-1
6,+1
15,-1
15,-1
5,+1
5,-1
1,0
42,+1
"""


def write_source(folder: Path, ratings: str = RATINGS, labels: str = LABELS) -> Path:
    """A bitcoin-otc folder holding the two source files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soc-sign-bitcoinotc.csv").write_text(ratings, encoding="utf-8")
    (folder / "otc_gt.csv").write_text(labels, encoding="utf-8")
    return folder


def read_export(out: Path) -> dict[str, pd.DataFrame]:
    """The three written tables, ids as strings."""
    return {
        name: pd.read_csv(out / f"{name}.csv", dtype={"business_id": str, "buyer_id": str,
                                                       "seller_id": str})
        for name in ("businesses", "transactions", "outcomes")
    }  # fmt: skip


@pytest.fixture
def converted(tmp_path: Path):
    report = convert_bitcoin_otc(write_source(tmp_path / "src"), tmp_path / "out")
    return report, read_export(tmp_path / "out")


def test_counts_reconcile_with_drops_by_reason(converted) -> None:
    report, tables = converted
    assert report.source_rows == {"soc-sign-bitcoinotc.csv": 9, "otc_gt.csv": 8}
    ratings_dropped = report.dropped["soc-sign-bitcoinotc.csv"]
    # 1,2,x (rating not a number), 4,3,...,99 (extra field), 9,, (empty seller)
    assert ratings_dropped[UNPARSEABLE] == 3
    assert ratings_dropped[SELF_LOOP] == 1
    labels_dropped = report.dropped["otc_gt.csv"]
    assert labels_dropped[BAD_LABEL] == 1  # 1,0
    assert labels_dropped[DUPLICATE_LABEL] == 1  # 15,-1 twice
    assert labels_dropped[CONFLICTING_LABEL] == 2  # 5,+1 and 5,-1
    assert report.written_rows["transactions"] == len(tables["transactions"]) == 5
    assert report.written_rows["outcomes"] == len(tables["outcomes"]) == 4
    assert report.reconciles()
    assert json.loads((report.out / REPORT_FILE).read_text())["reconciles"] is True


def test_reconciles_is_false_when_a_row_goes_missing(converted) -> None:
    report, _ = converted
    report.written_rows["transactions"] -= 1
    assert not report.reconciles()


def test_orders_follow_the_contract_and_carry_the_rating(converted) -> None:
    _, tables = converted
    orders = tables["transactions"]
    assert orders["txn_id"].tolist() == ["otc-1", "otc-2", "otc-3", "otc-5", "otc-6"]
    assert (orders["buyer_id"] != orders["seller_id"]).all()
    assert (orders["amount"] == 1).all()
    assert set(orders["status"]) == {"completed"}
    # rater = buyer, rated = seller; repeated pair 6->2 kept as two orders
    assert orders[["buyer_id", "seller_id", "rating"]].values.tolist() == [
        ["6", "2", 4], ["6", "5", -2], ["1", "15", 1], ["6", "2", 10], ["2", "6", -10],
    ]  # fmt: skip
    ts = pd.to_datetime(orders["ts"], utc=True)
    assert ts.iloc[0] == pd.Timestamp(1289241911.72836, unit="s", tz="UTC").round("us")


def test_businesses_registered_on_first_rating_and_labelled_isolated_node_kept(converted) -> None:
    report, tables = converted
    businesses = tables["businesses"].set_index("business_id")
    assert set(businesses.index) == {"6", "2", "5", "1", "15", "42"}  # 7 only self-rated, 9 bad row
    assert set(businesses["kind"]) == {"sme"}
    assert set(businesses["region"]) == set(businesses["industry"]) == {"unknown"}
    orders = tables["transactions"]
    first = pd.concat(
        [
            orders[["buyer_id", "ts"]].set_axis(["business_id", "ts"], axis=1),
            orders[["seller_id", "ts"]].set_axis(["business_id", "ts"], axis=1),
        ]
    ).assign(ts=lambda frame: pd.to_datetime(frame["ts"], utc=True).dt.strftime("%Y-%m-%d"))
    expected = first.groupby("business_id")["ts"].min()
    assert businesses.loc[expected.index, "registered_at"].tolist() == expected.tolist()
    assert businesses.loc["42", "registered_at"] == "2010-11-08"  # first rating's date
    assert report.notes["businesses without kept orders (labelled or listed)"] == 1


def test_outcomes_are_fraud_labels_at_one_as_of_after_every_order(converted) -> None:
    _, tables = converted
    outcomes = tables["outcomes"].set_index("business_id")
    assert outcomes["fraud"].to_dict() == {"2": 1, "6": 0, "15": 1, "42": 0}
    assert outcomes["defaulted"].isna().all()
    assert outcomes["as_of"].nunique() == 1
    as_of = pd.Timestamp(outcomes["as_of"].iloc[0], tz="UTC")
    last = pd.to_datetime(tables["transactions"]["ts"], utc=True).max()
    assert last < as_of <= last + pd.Timedelta(days=1)
    assert as_of == as_of.normalize()
    assert set(outcomes.index) <= set(tables["businesses"]["business_id"])


def test_label_file_with_a_header_line_is_read_too(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src", labels="node,label\n2,-1\n6,+1\n")
    report = convert_bitcoin_otc(src, tmp_path / "out")
    assert report.source_rows["otc_gt.csv"] == 2
    assert report.written_rows["outcomes"] == 2
    assert report.reconciles()


def test_conversion_is_deterministic(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src")
    convert_bitcoin_otc(src, tmp_path / "a")
    convert_bitcoin_otc(src, tmp_path / "b")
    for name in ("businesses.csv", "transactions.csv", "outcomes.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_missing_file_or_wrong_header_says_what_to_fix(tmp_path: Path) -> None:
    src = write_source(tmp_path / "src")
    (src / "otc_gt.csv").unlink()
    with pytest.raises(RealDataError, match=r"otc_gt\.csv"):
        convert_bitcoin_otc(src, tmp_path / "out")
    src = write_source(tmp_path / "other", ratings="a,b,c,d\n1,2,3,4\n")
    with pytest.raises(RealDataError, match="header"):
        convert_bitcoin_otc(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_passes_the_validator_with_zero_rejects(converted, tmp_path: Path) -> None:
    report, _ = converted
    checked = validate_export(report.out, b"test-key", rejects_dir=tmp_path / "rejects")
    assert checked.rejected == 0
    assert {name: table.kept for name, table in checked.tables.items()} == report.written_rows
