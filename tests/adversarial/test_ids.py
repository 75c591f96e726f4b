"""Ids are NFKC-normalised and never case-folded; control and format characters are rejected;
ids that mix scripts are kept but counted in the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adversarial.exports import KEY, businesses, transactions, write
from loaders.validate import ExportReader


def _read(export: Path) -> tuple[pd.DataFrame, pd.DataFrame, ExportReader]:
    with ExportReader(export, KEY, rejects_dir=None) as reader:
        biz, _ = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
    return biz, orders, reader


def test_full_width_id_is_the_same_business_and_lower_case_another(tmp_path: Path) -> None:
    biz = businesses()
    extra = biz.iloc[[1, 1]].copy()
    extra["business_id"] = ["Ｂ００１", "b001"]  # full-width B001; lower-case b001
    biz = pd.concat([biz, extra], ignore_index=True)
    tx = transactions()
    tx.loc[0, "buyer_id"] = "Ｂ００２"  # an order naming B002 in full width
    export = write(tmp_path / "export", {"businesses": biz, "transactions": tx})
    kept, orders, reader = _read(export)
    assert reader.report.tables["businesses"].rejected_by_reason == {"duplicate_business_id": 1}
    assert "b001" in set(kept["business_id"]) and "Ｂ００１" not in set(kept["business_id"])
    assert orders.loc[orders["txn_id"] == "T0000", "buyer_id"].item() == "B002"


def test_nul_and_zero_width_space_in_ids_are_rejected(tmp_path: Path) -> None:
    biz = businesses()
    biz.loc[9, "business_id"] = "B\u200b009"  # zero-width space (Unicode Cf)
    tx = transactions()
    tx.loc[0, "txn_id"] = "T\x00000"  # NUL (Unicode Cc)
    tx.loc[1, "txn_id"] = "T\u202e1000"  # right-to-left override
    tx.loc[2, "seller_id"] = "B\ufeff003"  # byte-order mark inside the id
    for fmt in ("csv", "parquet"):
        export = write(tmp_path / fmt, {"businesses": biz, "transactions": tx}, fmt=fmt)
        kept, orders, reader = _read(export)
        assert reader.report.tables["businesses"].rejected_by_reason == {
            "control_char_business_id": 1
        }
        tx_reasons = reader.report.tables["transactions"].rejected_by_reason
        assert tx_reasons["control_char_txn_id"] == 2
        assert tx_reasons["control_char_seller_id"] == 1
        stored = "".join(orders["txn_id"]) + "".join(kept["business_id"])
        assert "\x00" not in stored and "\u200b" not in stored and "\u202e" not in stored


def test_ids_mixing_latin_and_cyrillic_are_kept_and_flagged(tmp_path: Path) -> None:
    biz = businesses()
    biz.loc[8, "business_id"] = "SHOP-\u0412008"  # Latin SHOP + Cyrillic VE
    biz.loc[9, "business_id"] = "\u0412\u0415\u041b"  # all Cyrillic: one script, not flagged
    tx = transactions()
    tx = tx[~tx["buyer_id"].isin(["B008", "B009"]) & ~tx["seller_id"].isin(["B008", "B009"])]
    tx.loc[tx.index[0], "txn_id"] = "ORDER-\u03a90"  # Latin + Greek omega
    export = write(tmp_path / "export", {"businesses": biz, "transactions": tx})
    kept, _, reader = _read(export)
    assert reader.report.rejected == 0
    assert "SHOP-\u0412008" in set(kept["business_id"])
    assert dict(reader.report.tables["businesses"].flagged) == {"mixed_script_business_id": 1}
    assert dict(reader.report.tables["transactions"].flagged) == {"mixed_script_txn_id": 1}
    assert "mixed_script_business_id" in reader.report.render()
    assert reader.report.as_dict()["tables"]["businesses"]["flagged"] == {
        "mixed_script_business_id": 1
    }
