"""Reading exports: file discovery, encodings, line ends, Parquet types, structural errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from export_fixture import KEY, raw_businesses, raw_fx, raw_outcomes, raw_transactions, write_export

from loaders.reader import ExportStructureError, discover_tables
from loaders.validate import ExportReader, validate_export


def _read_all(export: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with ExportReader(export, KEY, rejects_dir=None, chunk_rows=9) as reader:
        businesses, identifiers = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
        outcomes = reader.outcomes()
    assert reader.report.rejected == 0
    return businesses, identifiers, orders, outcomes


def _typed(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The raw string tables with Parquet-native types (numbers, timestamps, dates)."""
    biz = tables["businesses"].copy()
    biz["registered_at"] = pd.to_datetime(biz["registered_at"]).dt.date
    biz["employees"] = pd.to_numeric(biz["employees"]).astype("Int64")
    biz["declared_revenue"] = pd.to_numeric(biz["declared_revenue"])
    tx = tables["transactions"].copy()
    tx["amount"] = pd.to_numeric(tx["amount"])
    tx["ts"] = pd.to_datetime(tx["ts"], format="ISO8601", utc=True)
    out = tables["outcomes"].copy()
    for label in ("defaulted", "fraud"):
        out[label] = pd.to_numeric(out[label]).astype("Int8")
    fx = tables["fx_rates"].copy()
    fx["rate_to_base"] = pd.to_numeric(fx["rate_to_base"])
    return {"businesses": biz, "transactions": tx, "outcomes": out, "fx_rates": fx}


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "businesses": raw_businesses(),
        "transactions": raw_transactions(),
        "outcomes": raw_outcomes(),
        "fx_rates": raw_fx(),
    }


def test_bom_and_crlf_read_like_plain_csv(tmp_path: Path) -> None:
    plain = write_export(tmp_path / "plain")
    windows = write_export(tmp_path / "windows")
    for path in windows.iterdir():
        text = path.read_text().replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for a, b in zip(_read_all(plain), _read_all(windows), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_parquet_and_mixed_exports_read_like_csv(tmp_path: Path) -> None:
    csv = write_export(tmp_path / "csv")
    parquet = write_export(tmp_path / "parquet", _typed(_tables()), fmt="parquet")
    mixed = write_export(tmp_path / "mixed", {"businesses": raw_businesses()})
    write_export(
        mixed, {k: v for k, v in _typed(_tables()).items() if k != "businesses"}, fmt="parquet"
    )
    expected = _read_all(csv)
    for export in (parquet, mixed):
        for a, b in zip(expected, _read_all(export), strict=True):
            pd.testing.assert_frame_equal(a, b, check_dtype=True)


def test_parquet_column_of_wrong_type_is_structural(tmp_path: Path) -> None:
    tables = _typed(_tables())
    tables["transactions"]["amount"] = tables["transactions"]["amount"].astype("str")
    export = write_export(tmp_path / "export", tables, fmt="parquet")
    with pytest.raises(ExportStructureError) as caught:
        validate_export(export, KEY, rejects_dir=tmp_path / "rejects")
    assert (caught.value.file, caught.value.column) == ("transactions.parquet", "amount")
    assert "needs a number" in str(caught.value)
    assert not (tmp_path / "rejects").exists()


def test_discovery_ignores_other_files_and_requires_the_two_tables(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "ground_truth.csv").write_text("x\n1\n")
    (export / "notes.txt").write_text("hello")
    found, ignored = discover_tables(export)
    assert set(found) == {"businesses", "transactions", "outcomes", "fx_rates"}
    assert ignored == ["ground_truth.csv", "notes.txt"]
    (export / "transactions.csv").unlink()
    with pytest.raises(ExportStructureError, match=r"transactions\.csv .*missing"):
        discover_tables(export)


def test_same_table_in_two_formats_is_structural(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "outcomes.parquet").write_bytes(b"")
    with pytest.raises(ExportStructureError, match="keep exactly one"):
        discover_tables(export)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"business_id,kind\xff,registered_at\n", "not UTF-8"),
        (b"business_id,business_id,registered_at,region,industry\n", "more than once"),
    ],
)
def test_unreadable_businesses_file_is_structural(
    tmp_path: Path, content: bytes, message: str
) -> None:
    export = write_export(tmp_path / "export")
    (export / "businesses.csv").write_bytes(content)
    with pytest.raises(ExportStructureError, match=message) as caught:
        validate_export(export, KEY, rejects_dir=tmp_path / "rejects")
    assert caught.value.file == "businesses.csv"
    assert not (tmp_path / "rejects").exists()


def test_non_utf8_deep_in_a_file_names_its_line(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    path = export / "transactions.csv"
    lines = path.read_bytes().split(b"\n")
    lines[30] = lines[30].replace(b"cat", b"caf\xe9")  # Latin-1 e-acute
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ExportStructureError, match="near line 31") as caught:
        validate_export(export, KEY, rejects_dir=tmp_path / "rejects")
    assert "caf" not in str(caught.value)
    assert not (tmp_path / "rejects").exists()


def test_not_a_folder_is_structural(tmp_path: Path) -> None:
    with pytest.raises(ExportStructureError, match="not a folder"):
        validate_export(tmp_path / "missing", KEY, rejects_dir=None)
