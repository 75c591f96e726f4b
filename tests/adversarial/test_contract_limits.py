"""Contract v2 limits: amounts, timestamps, string lengths and counts outside them are rejected
with a reason by the validator that ``load`` shares, so no accepted row can break a load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adversarial.exports import KEY, businesses, rejects, transactions, write
from loaders.contract import ORDER_SCHEMA
from loaders.validate import ExportReader, validate_export


def _orders(export: Path, **options) -> tuple[pd.DataFrame, ExportReader]:
    with ExportReader(export, KEY, rejects_dir=None, **options) as reader:
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
    return orders, reader


def test_amount_of_1_79e308_is_rejected_not_stored_as_inf(tmp_path: Path) -> None:
    tx = transactions()
    tx.loc[0, "amount"] = "1.79e308"
    tx.loc[1, "amount"] = "1e12"  # the largest amount the contract allows
    tx.loc[2, "amount"] = "1000000000000.5"
    tx.loc[3, "amount"] = "inf"
    orders, reader = _orders(write(tmp_path / "export", {"transactions": tx}))
    reasons = reader.report.tables["transactions"].rejected_by_reason
    assert reasons == {"too_large_amount": 2, "bad_amount": 1}
    assert "T0001" in set(orders["txn_id"]) and np.isfinite(orders["amount_base"]).all()
    ORDER_SCHEMA.validate(orders)


def test_fx_conversion_that_overflows_is_rejected(tmp_path: Path) -> None:
    tx = transactions()
    tx.loc[0, "currency"] = "XBIG"
    tx.loc[0, "amount"] = "1e12"
    tx.loc[1, "currency"] = "XTINY"
    tx.loc[1, "amount"] = "1e-200"
    fx = pd.DataFrame(
        {"currency": ["XBIG", "XTINY", "XINF"], "rate_to_base": ["1e300", "1e-200", "inf"]}
    )
    export = write(tmp_path / "export", {"transactions": tx, "fx_rates": fx})
    orders, reader = _orders(export)
    assert reader.report.tables["transactions"].rejected_by_reason == {"bad_amount_base": 2}
    assert reader.report.tables["fx_rates"].rejected_by_reason == {"bad_rate_to_base": 1}
    assert np.isfinite(orders["amount_base"]).all() and (orders["amount_base"] > 0).all()


def test_ts_half_a_second_before_1970_is_rejected_not_kept(tmp_path: Path) -> None:
    tx = transactions()
    tx.loc[0, "ts"] = "1969-12-31T23:59:59.5Z"
    tx.loc[1, "ts"] = "2100-01-01T00:00:00.000001Z"
    tx.loc[2, "status_at"] = "2101-01-01"
    tx.loc[3, "ts"] = "1970-01-01T00:00:00Z"  # the first instant allowed
    tx.loc[4, "ts"] = "2100-01-01T00:00:00Z"  # the last instant allowed
    orders, reader = _orders(write(tmp_path / "export", {"transactions": tx.fillna("")}))
    reasons = reader.report.tables["transactions"].rejected_by_reason
    assert reasons == {"out_of_range_ts": 2, "out_of_range_status_at": 1}
    assert {"T0003", "T0004"} <= set(orders["txn_id"])
    ORDER_SCHEMA.validate(orders)


def test_parquet_timestamp_in_year_3000_is_rejected_like_csv(tmp_path: Path) -> None:
    rejected = {}
    for fmt in ("csv", "parquet"):
        tx = transactions()
        biz = businesses()
        folder = write(tmp_path / fmt, {"businesses": biz, "transactions": tx}, fmt=fmt)
        if fmt == "parquet":  # real timestamp and date types, not strings
            table = pq.read_table(folder / "transactions.parquet").to_pandas()
            table["ts"] = pd.to_datetime(table["ts"], utc=True).astype("datetime64[us, UTC]")
            table.loc[0, "ts"] = pd.Timestamp("3000-01-01", tz="UTC")
            pq.write_table(pa.Table.from_pandas(table), folder / "transactions.parquet")
            frame = pq.read_table(folder / "businesses.parquet").to_pandas()
            dates = [pd.Timestamp(d).date() for d in frame["registered_at"]]
            dates[1] = pd.Timestamp("3000-06-01").date()
            frame = pa.Table.from_pandas(frame.drop(columns=["registered_at"]))
            frame = frame.append_column("registered_at", pa.array(dates, pa.date32()))
            pq.write_table(frame, folder / "businesses.parquet")
        else:
            tx.loc[0, "ts"] = "3000-01-01T00:00:00Z"
            biz.loc[1, "registered_at"] = "3000-06-01"
            write(folder, {"businesses": biz, "transactions": tx})
        report = validate_export(folder, KEY, rejects_dir=None)
        rejected[fmt] = {
            name: dict(table.rejected_by_reason) for name, table in report.tables.items()
        }
    assert rejected["csv"]["transactions"]["out_of_range_ts"] == 1
    assert rejected["csv"]["businesses"] == {"out_of_range_registered_at": 1}
    assert rejected["parquet"] == rejected["csv"]


def test_20_million_character_category_is_rejected(tmp_path: Path) -> None:
    tx = transactions()
    tx.loc[0, "category"] = "x" * 20_000_000
    tx.loc[5, "category"] = "y" * 256  # the longest allowed
    biz = businesses()
    biz.loc[2, "region"] = "r" * 257
    biz.loc[3, "phone"] = "1" * 257
    export = write(tmp_path / "export", {"businesses": biz, "transactions": tx})
    report = validate_export(export, KEY, rejects_dir=tmp_path / "rejects")
    assert report.tables["businesses"].rejected_by_reason == {
        "too_long_region": 1,
        "too_long_phone": 1,
    }
    # orders of the two rejected businesses go too, as unknown parties
    assert report.tables["transactions"].rejected_by_reason["too_long_category"] == 1
    assert "T0005" not in set(rejects(tmp_path / "rejects", "transactions")["txn_id"])


def test_employee_count_beyond_any_integer_type_is_rejected_not_a_crash(tmp_path: Path) -> None:
    biz = businesses()
    biz["employees"] = "3"
    biz.loc[0, "employees"] = "1e30"
    export = write(tmp_path / "export", {"businesses": biz})
    with ExportReader(export, KEY, rejects_dir=None) as reader:
        kept, _ = reader.businesses()
    assert reader.report.tables["businesses"].rejected_by_reason == {"bad_employees": 1}
    assert kept["employees"].tolist() == [3] * (len(biz) - 1)
