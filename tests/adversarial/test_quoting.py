"""A stray quote cannot hide rows: counts are of physical lines, and every line a quoted value
swallows is rejected by line number (``quoted_line_break``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from adversarial.exports import KEY, rejects, write
from loaders.validate import ExportReader, ExportStructureError

HEADER = "txn_id,buyer_id,seller_id,ts,amount,currency,status,category"


def _line(i: int, category: str = "cat") -> str:
    return (
        f"T{i:04d},B{i % 10:03d},B{(i + 1) % 10:03d},2024-03-01T10:00:00Z,100,,completed,{category}"
    )


def _export(tmp_path: Path, lines: list[str]) -> Path:
    export = write(tmp_path / "export", {})
    (export / "transactions.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return export


def _read(export: Path, chunk_rows: int) -> tuple[pd.DataFrame, ExportReader]:
    with ExportReader(
        export, KEY, rejects_dir=export.parent / "rejects", chunk_rows=chunk_rows
    ) as r:
        orders = pd.concat(list(r.iter_orders()), ignore_index=True)
    return orders, r


@pytest.mark.parametrize("chunk_rows", [3, 1000])
def test_unbalanced_quote_does_not_hide_rows(tmp_path: Path, chunk_rows: int) -> None:
    """20 order lines; a quote opened on line 5 closes on line 17, inside a value where it
    leaves that record with the right number of fields: 13 lines read as one order."""
    lines = [_line(i) for i in range(20)]
    lines[3] = _line(3, category='"12 inch pipe')  # file line 5: a quote opens
    lines[15] = _line(15, category='5 inch nail"')  # file line 17: a quote closes
    orders, reader = _read(_export(tmp_path, lines), chunk_rows)
    tally = reader.report.tables["transactions"]
    assert (tally.read, tally.kept, tally.rejected) == (20, 7, 13)
    assert tally.rejected_by_reason == {"quoted_line_break": 13}
    assert reader.report.reconciles()
    assert orders["txn_id"].tolist() == [f"T{i:04d}" for i in [0, 1, 2, 16, 17, 18, 19]]
    written = rejects(tmp_path / "rejects", "transactions")
    assert written["line"].tolist() == list(range(5, 18))
    assert set(written["reason"]) == {"quoted_line_break"}


@pytest.mark.parametrize("chunk_rows", [2, 1000])
def test_quote_that_swallows_records_into_too_many_fields_is_counted_by_line(
    tmp_path: Path, chunk_rows: int
) -> None:
    """The swallowing record ends mid-line, so it has too many fields and the parser skips it:
    its span is found by re-reading it, and later line numbers stay physical."""
    lines = [_line(i) for i in range(20)]
    lines[3] = _line(3, category='"pipe')  # file line 5: a quote opens
    lines[8] = 'close" here,B008,B009,2024-03-01,1,,completed,cat'  # line 10: it closes
    lines[13] = _line(13) + ",surplus"  # line 15: too many fields, one line
    orders, reader = _read(_export(tmp_path, lines), chunk_rows)
    tally = reader.report.tables["transactions"]
    assert (tally.read, tally.kept, tally.rejected) == (20, 13, 7)
    assert tally.rejected_by_reason == {"quoted_line_break": 6, "bad_field_count": 1}
    written = rejects(tmp_path / "rejects", "transactions")
    assert written["line"].tolist() == [5, 6, 7, 8, 9, 10, 15]
    assert written["reason"].tolist() == ["quoted_line_break"] * 6 + ["bad_field_count"]
    kept = [0, 1, 2, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19]
    assert orders["txn_id"].tolist() == [f"T{i:04d}" for i in kept]


def test_quote_never_closed_stops_with_an_error_naming_the_file(tmp_path: Path) -> None:
    lines = [_line(i) for i in range(20)]
    lines[17] = _line(17, category='"never closed')
    export = _export(tmp_path, lines)
    with pytest.raises(ExportStructureError) as caught:
        _read(export, 1000)
    assert caught.value.file == "transactions.csv"
    assert "transactions.csv" in str(caught.value) and "line" in str(caught.value)
    assert not (tmp_path / "rejects").exists()


def test_quoted_values_within_one_line_still_read(tmp_path: Path) -> None:
    lines = [_line(i) for i in range(5)]
    lines[1] = _line(1, category='"wood, oak"')
    lines[2] = _line(2, category='"say ""hi"""')
    lines[3] = _line(3, category='5" pipe')  # a quote inside an unquoted value is literal
    orders, reader = _read(_export(tmp_path, lines), 1000)
    assert reader.report.rejected == 0
    assert orders["category"].tolist() == ["cat", "wood, oak", 'say "hi"', '5" pipe', "cat"]
