"""Contract v2 tables and columns: ``credit_events`` and ``businesses.updated_at`` versions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from export_fixture import KEY, raw_businesses, raw_fx, raw_transactions, write_export

from loaders.columns import BUSINESS_VERSION, CREDIT_EVENT_COLUMNS
from loaders.contract import BUSINESS_SCHEMA, CREDIT_EVENT_SCHEMA, CREDIT_EVENTS, all_reasons
from loaders.validate import ExportReader, validate_export

EVENT_CORRUPTIONS = [  # (row, column, value, reason); rows 0..7 are valid to begin with
    (1, "business_id", "", "empty_business_id"),
    (2, "business_id", "B7777", "unknown_business"),
    (3, "event", "bankrupt", "unknown_event"),
    (4, "event", "", "empty_event"),
    (5, "at", "", "empty_at"),
    (6, "at", "soon", "bad_at"),
    (7, "at", "1969-06-30", "out_of_range_at"),
]


def _events() -> pd.DataFrame:
    kinds = ["credit_opened", "defaulted", "credit_closed", "fraud_confirmed"]
    return pd.DataFrame(
        {
            "business_id": [f"B{i:04d}" for i in range(10)],
            "event": [kinds[i % 4] for i in range(10)],
            "at": [f"2024-0{1 + i % 9}-15T08:00:00Z" for i in range(10)],
        },
        dtype="str",
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_credit_events_are_validated_and_carried_with_fixed_columns(
    tmp_path: Path, fmt: str
) -> None:
    events = _events()
    for row, column, value, _ in EVENT_CORRUPTIONS:
        events.loc[row, column] = value
    duplicate = events.iloc[[0]].copy()  # row 10: same business, event and time as row 0
    events = pd.concat([events, duplicate], ignore_index=True)
    export = write_export(
        tmp_path / "export", {"businesses": raw_businesses(), "transactions": raw_transactions()}
    )
    write_export(export, {"credit_events": events}, fmt=fmt)  # all columns are strings
    rejects = tmp_path / "rejects"
    with ExportReader(export, KEY, rejects_dir=rejects, chunk_rows=4) as reader:
        reader.businesses()
        kept = reader.credit_events()
    assert list(kept.columns) == CREDIT_EVENT_COLUMNS
    CREDIT_EVENT_SCHEMA.validate(kept)
    assert kept["business_id"].tolist() == ["B0000", "B0008", "B0009"]
    assert kept["at"].iloc[0] == pd.Timestamp("2024-01-15T08:00:00Z")
    tally = reader.report.tables["credit_events"]
    expected = {reason for *_, reason in EVENT_CORRUPTIONS} | {"duplicate_credit_event"}
    assert set(tally.rejected_by_reason) == expected
    assert (tally.read, tally.kept, tally.rejected) == (11, 3, 8)
    assert set(tally.rejected_by_reason) <= set(all_reasons(CREDIT_EVENTS))


def test_export_without_credit_events_gives_an_empty_frame(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    with ExportReader(export, KEY, rejects_dir=None) as reader:
        events = reader.credit_events()
    assert events.empty and list(events.columns) == CREDIT_EVENT_COLUMNS
    assert "credit_events" not in reader.report.tables
    assert str(events["at"].dtype) == "datetime64[us, UTC]"


def test_business_versions_by_updated_at(tmp_path: Path) -> None:
    biz = raw_businesses()
    biz["updated_at"] = ""
    v2 = biz.iloc[[0]].copy()
    v2["updated_at"], v2["region"], v2["phone"] = "2024-05-01T00:00:00Z", "BC", "+1 555 0999"
    same = biz.iloc[[1]].copy()
    same["updated_at"] = same["registered_at"]  # the default version of B0001 again
    biz = pd.concat([biz, v2, same], ignore_index=True)
    export = write_export(
        tmp_path / "export",
        {"businesses": biz, "transactions": raw_transactions(), "fx_rates": raw_fx()},
    )
    report = validate_export(export, KEY, rejects_dir=None)
    assert report.tables["businesses"].rejected_by_reason == {"duplicate_business_id": 1}
    assert report.tables["transactions"].rejected == 0  # B0000 is one known business
    with ExportReader(export, KEY, rejects_dir=None) as reader:
        kept, identifiers = reader.businesses()
    BUSINESS_SCHEMA.validate(kept)
    versions = kept[kept["business_id"] == "B0000"]
    assert versions["region"].tolist() == ["ON", "BC"]
    assert versions[BUSINESS_VERSION].tolist() == [
        versions["registered_at"].iloc[0],
        pd.Timestamp("2024-05-01", tz="UTC"),
    ]
    phones = identifiers[
        (identifiers["business_id"] == "B0000") & (identifiers["id_type"] == "phone")
    ]
    assert len(phones) == 2  # both versions' phones; identical rows are not repeated
    assert not identifiers.duplicated().any()
