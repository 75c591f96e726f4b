"""Row validation: exactly the corrupted rows are rejected, with the right reason; all else kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from export_fixture import (
    KEY,
    raw_businesses,
    raw_fx,
    raw_outcomes,
    raw_transactions,
    write_export,
)

from loaders.columns import BUSINESS_COLUMNS, BUSINESS_VERSION, ORDER_COLUMNS, OUTCOME_COLUMNS
from loaders.contract import (
    BUSINESS_SCHEMA,
    IDENTIFIER_SCHEMA,
    ORDER_SCHEMA,
    OUTCOME_SCHEMA,
    TABLES,
    all_reasons,
)
from loaders.identifiers import key_fingerprint
from loaders.options import ExportOptions
from loaders.validate import ExportReader, ExportStructureError, SeenHashes, validate_export

# (row index in transactions, column, new value, expected reason)
ORDER_CORRUPTIONS = [
    (1, "txn_id", "", "empty_txn_id"),
    (2, "txn_id", "X" * 65, "too_long_txn_id"),
    (12, "txn_id", "T000003", "duplicate_txn_id"),  # first T000003 (row 3) is kept
    (4, "amount", "-5", "not_positive_amount"),
    (5, "amount", "0", "not_positive_amount"),
    (6, "amount", "12,50", "bad_amount"),
    (7, "seller_id", "B9999", "unknown_seller"),
    (8, "buyer_id", "NOPE", "unknown_buyer"),
    (9, "buyer_id", "B0009", "buyer_is_seller"),  # seller of row 9 is B0009
    (10, "status", "shipped", "unknown_status"),
    (11, "ts", "2024-13-45T10:00:00", "bad_ts"),
    (13, "currency", "JPY", "no_fx_rate"),
    (14, "status_at", "yesterday", "bad_status_at"),
    (15, "buyer_id", "", "empty_buyer_id"),
    (16, "amount", "", "empty_amount"),
    (17, "seller_id", "B0045", "unknown_seller"),  # B0045 is rejected below
    (18, "ts", "", "empty_ts"),
]
# rows in businesses never referenced by orders (B0040..B0049), except B0045 (see above)
BUSINESS_CORRUPTIONS = [
    (41, "business_id", "B0040", "duplicate_business_id"),
    (42, "registered_at", "not a date", "bad_registered_at"),
    (43, "kind", "alien", "unknown_kind"),
    (44, "employees", "-3", "negative_employees"),
    (45, "region", "  ", "empty_region"),
    (46, "employees", "2.5", "bad_employees"),
    (47, "declared_revenue", "lots", "bad_declared_revenue"),
]
OUTCOME_CORRUPTIONS = [
    (1, "business_id", "B7777", "unknown_business"),
    (2, "defaulted", "", "no_label"),  # row 2 has fraud "1"; blank both below
    (3, "defaulted", "2", "bad_defaulted"),
    (4, "business_id", "B0000", "duplicate_outcome"),  # row 0 is B0000 at the same as_of
    (5, "as_of", "July", "bad_as_of"),
]


def _corrupt(frame: pd.DataFrame, corruptions: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    frame = frame.copy()
    for row, column, value, _ in corruptions:
        frame.loc[row, column] = value
    return frame


def _corrupt_businesses() -> pd.DataFrame:
    """Businesses with BUSINESS_CORRUPTIONS; the duplicate (row 41) repeats row 40's
    registered_at, so it is the same version (updated_at defaults to registered_at)."""
    frame = _corrupt(raw_businesses(), BUSINESS_CORRUPTIONS)
    frame.loc[41, "registered_at"] = frame.loc[40, "registered_at"]
    return frame


def _corrupted_export(folder: Path) -> Path:
    outcomes = _corrupt(raw_outcomes(), OUTCOME_CORRUPTIONS)
    outcomes.loc[2, "fraud"] = ""
    return write_export(
        folder,
        {
            "businesses": _corrupt_businesses(),
            "transactions": _corrupt(raw_transactions(), ORDER_CORRUPTIONS),
            "outcomes": outcomes,
            "fx_rates": raw_fx(),
        },
    )


def _expected(corruptions: list[tuple[int, str, str, str]]) -> set[tuple[int, str]]:
    return {(row + 2, reason) for row, _, _, reason in corruptions}  # header is line 1


def _rejects(folder: Path, table: str) -> set[tuple[int, str]]:
    frame = pd.read_csv(folder / f"{table}.rejects.csv", dtype="str", keep_default_na=False)
    return set(zip(frame["line"].astype(int), frame["reason"], strict=True))


def test_valid_export_round_trips_with_zero_rejects(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    with ExportReader(export, KEY, rejects_dir=tmp_path / "rejects", chunk_rows=16) as reader:
        businesses, identifiers = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
        outcomes = reader.outcomes()
    assert reader.report.rejected == 0 and reader.report.reconciles()
    BUSINESS_SCHEMA.validate(businesses)
    IDENTIFIER_SCHEMA.validate(identifiers)
    ORDER_SCHEMA.validate(orders)
    OUTCOME_SCHEMA.validate(outcomes)
    assert list(businesses.columns) == [*BUSINESS_COLUMNS, BUSINESS_VERSION]
    assert list(orders.columns) == ORDER_COLUMNS
    assert list(outcomes.columns) == OUTCOME_COLUMNS
    assert len(orders) == len(raw_transactions())
    assert not list((tmp_path / "rejects").glob("*.rejects.csv"))


def test_frames_follow_the_contract_defaults(tmp_path: Path) -> None:
    raw = raw_transactions()
    export = write_export(tmp_path / "export")
    with ExportReader(export, KEY, rejects_dir=None, options=ExportOptions("USD")) as reader:
        businesses, _ = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True).set_index("txn_id")
    # kind defaults to sme; registered_at is UTC midnight
    assert (businesses.loc[raw_businesses()["kind"] == "", "kind"] == "sme").all()
    assert (businesses["registered_at"] == businesses["registered_at"].dt.floor("D")).all()
    # no zone means UTC; offsets are converted
    assert orders.loc["T000000", "ts"] == pd.Timestamp("2024-01-01T00:30:00Z")
    assert orders.loc["T000002", "ts"] == pd.Timestamp("2024-03-03T00:30:00Z")  # 02:30+02:00
    # currency defaults to the base; amount_base = amount * rate; status_at defaults to ts
    assert orders.loc["T000000", "currency"] == "USD"
    cad = orders[orders["currency"] == "CAD"]
    np.testing.assert_allclose(cad["amount_base"], cad["amount"] * 0.75)
    blank_status_at = raw.set_index("txn_id")["status_at"] == ""
    assert (orders.loc[blank_status_at, "status_at"] == orders.loc[blank_status_at, "ts"]).all()
    assert orders.loc["T000000", "category"] is np.nan or pd.isna(orders.loc["T000000", "category"])


@pytest.mark.parametrize("chunk_rows", [5, 200_000])
def test_exactly_the_corrupted_rows_are_rejected(tmp_path: Path, chunk_rows: int) -> None:
    export = _corrupted_export(tmp_path / "export")
    rejects = tmp_path / "rejects"
    with ExportReader(export, KEY, rejects_dir=rejects, chunk_rows=chunk_rows) as reader:
        businesses, identifiers = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
        outcomes = reader.outcomes()

    assert _rejects(rejects, "transactions") == _expected(ORDER_CORRUPTIONS)
    assert _rejects(rejects, "businesses") == _expected(BUSINESS_CORRUPTIONS)
    assert _rejects(rejects, "outcomes") == _expected(OUTCOME_CORRUPTIONS)

    bad_orders = {row for row, *_ in ORDER_CORRUPTIONS}
    expected_ids = [t for i, t in enumerate(raw_transactions()["txn_id"]) if i not in bad_orders]
    assert orders["txn_id"].tolist() == expected_ids
    bad_businesses = {row for row, *_ in BUSINESS_CORRUPTIONS}
    expected_b = [
        b for i, b in enumerate(raw_businesses()["business_id"]) if i not in bad_businesses
    ]
    assert businesses["business_id"].tolist() == expected_b
    assert set(identifiers["business_id"]) == set(expected_b)
    assert len(outcomes) == len(raw_outcomes()) - len(OUTCOME_CORRUPTIONS)

    report = reader.report
    assert report.reconciles()
    tx = report.tables["transactions"]
    assert (tx.read, tx.kept, tx.rejected) == (60, 60 - len(bad_orders), len(bad_orders))
    assert tx.rejected_by_reason["not_positive_amount"] == 2
    assert tx.rejected_by_reason["unknown_seller"] == 2
    for name, table in report.tables.items():  # every reason used is a documented one
        assert set(table.rejected_by_reason) <= set(all_reasons(TABLES[name]))


def test_row_with_too_many_fields_is_rejected_by_line(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    path = export / "transactions.csv"
    lines = path.read_text().splitlines()
    lines[6] += ",surplus"  # record 7 (line 1 = header)
    lines[20] += ",a,b"
    path.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects"
    with ExportReader(export, KEY, rejects_dir=rejects, chunk_rows=4) as reader:
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
    assert _rejects(rejects, "transactions") == {(7, "bad_field_count"), (21, "bad_field_count")}
    assert len(orders) == 58 and "T000005" not in set(orders["txn_id"])
    assert "T000006" in set(orders["txn_id"]) and reader.report.reconciles()


def test_raw_identifiers_never_reach_an_output(tmp_path: Path) -> None:
    raw = _corrupt_businesses()
    export = write_export(
        tmp_path / "export", {"businesses": raw, "transactions": raw_transactions()}
    )
    rejects = tmp_path / "rejects"
    report = validate_export(export, KEY, rejects_dir=rejects)
    assert report.tables["businesses"].rejected == len(BUSINESS_CORRUPTIONS)
    written = "\n".join(p.read_text() for p in rejects.iterdir()) + report.render()
    written += str(report.as_dict())
    for column in ("phone", "device_id", "address", "bank_account", "owner_id"):
        for value in raw[column]:
            assert value not in written
            assert value.casefold() not in written
    for token in ("rawvalue", "rawdev", "rawbank", "rawowner", "+155501"):
        assert token not in written.casefold()
    assert key_fingerprint(KEY) in written


def test_extra_columns_carried_and_other_files_ignored(tmp_path: Path) -> None:
    tx = raw_transactions()
    tx["channel"] = "web"
    biz = raw_businesses()
    biz["tier"] = "gold"
    export = write_export(tmp_path / "export", {"businesses": biz, "transactions": tx})
    (export / "ground_truth.csv").write_text("business_id,latent\nB0000,0.3\n")
    with ExportReader(export, KEY, rejects_dir=None) as reader:
        businesses, _ = reader.businesses()
        orders = next(reader.iter_orders())
        outcomes = reader.outcomes()
    assert list(orders.columns) == [*ORDER_COLUMNS, "channel"]
    assert list(businesses.columns) == [*BUSINESS_COLUMNS, BUSINESS_VERSION, "tier"]
    assert outcomes.empty and list(outcomes.columns) == OUTCOME_COLUMNS
    assert reader.report.tables["transactions"].extra_columns == ["channel"]
    assert reader.report.ignored_files == ["ground_truth.csv"]
    assert "outcomes" not in reader.report.tables


def test_iterating_orders_twice_does_not_double_count(tmp_path: Path) -> None:
    export = _corrupted_export(tmp_path / "export")
    with ExportReader(export, KEY, rejects_dir=tmp_path / "rejects", chunk_rows=7) as reader:
        first = sum(len(chunk) for chunk in reader.iter_orders())
        second = sum(len(chunk) for chunk in reader.iter_orders())
    assert first == second == reader.report.tables["transactions"].kept
    assert reader.report.tables["transactions"].read == 60
    assert len(_rejects(tmp_path / "rejects", "transactions")) == len(ORDER_CORRUPTIONS)


@pytest.mark.parametrize(
    ("table", "column"),
    [("transactions", "amount"), ("businesses", "registered_at"), ("transactions", "status")],
)
def test_missing_required_column_writes_nothing(tmp_path: Path, table: str, column: str) -> None:
    tables = {"businesses": raw_businesses(), "transactions": raw_transactions()}
    tables[table] = tables[table].drop(columns=[column])
    export = write_export(tmp_path / "export", tables)
    rejects = tmp_path / "rejects"
    with pytest.raises(ExportStructureError) as caught:
        validate_export(export, KEY, rejects_dir=rejects)
    assert caught.value.file == f"{table}.csv" and caught.value.column == column
    assert f"{table}.csv" in str(caught.value) and column in str(caught.value)
    assert not rejects.exists()


def test_structural_error_after_row_rejects_leaves_nothing(tmp_path: Path) -> None:
    export = _corrupted_export(tmp_path / "export")
    (export / "outcomes.csv").write_bytes(
        b"business_id,as_of,defaulted,fraud\nB0001,2024-07-01,\xff,1\n"
    )
    rejects = tmp_path / "rejects"
    with pytest.raises(ExportStructureError, match=r"outcomes\.csv is not valid UTF-8"):
        validate_export(export, KEY, rejects_dir=rejects)
    assert not rejects.exists()


def test_seen_hashes_finds_every_added_value_across_many_runs() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**63, size=5_000, dtype=np.uint64)
    seen = SeenHashes()
    for start in range(0, 4_000, 250):
        seen.add(values[start : start + 250])
    assert seen.contains(values[:4_000]).all()
    assert not seen.contains(values[4_000:]).any()
    assert len(seen) == 4_000


def test_phone_country_code_makes_national_and_international_numbers_match(
    tmp_path: Path,
) -> None:
    raw = raw_businesses()
    raw.loc[0, "phone"] = "020 7946 0000"
    raw.loc[1, "phone"] = "+44 20 7946 0000"
    export = write_export(
        tmp_path / "export", {"businesses": raw, "transactions": raw_transactions()}
    )

    def phone_hashes(country_code: str | None) -> pd.Series:
        with ExportReader(
            export, KEY, rejects_dir=None, options=ExportOptions(phone_country_code=country_code)
        ) as r:
            _, identifiers = r.businesses()
        phones = identifiers[identifiers["id_type"] == "phone"].set_index("business_id")["id_hash"]
        return phones.loc[[raw.loc[0, "business_id"], raw.loc[1, "business_id"]]]

    without, with_code = phone_hashes(None), phone_hashes("+44")
    assert without.iloc[0] != without.iloc[1]  # "02079460000" vs "+442079460000"
    assert with_code.iloc[0] == with_code.iloc[1]
    assert with_code.iloc[1] == without.iloc[1]  # international numbers are unchanged
