"""Cells a spreadsheet would run as formulas (``=HYPERLINK(...)``, ``@SUM(...)``) are escaped
with a leading ``'`` in every CSV written for people: rejects, ``score --out``, query csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from adversarial.exports import KEY, transactions, write
from graph.query_library import QueryResult
from loaders.safe_csv import FORMULA_PREFIXES
from loaders.validate import validate_export
from tradegraph.cli.query_cmd import render
from tradegraph.exports import write_scores_csv

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "@SUM(A1:A9)", "+1+cmd|'/c calc'!A0",
           "-2+3", "\t=1+1", "\r=1+1"]  # fmt: skip


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _assert_no_live_formula(cells: list[str]) -> None:
    for cell in cells:
        if cell.startswith(FORMULA_PREFIXES):
            float(cell)  # only plain numbers such as -5 may start so


def test_formula_ids_are_escaped_in_rejects_csv(tmp_path: Path) -> None:
    tx = transactions()
    hostile = HOSTILE[:-1]  # a CR inside a value is a quoted line break: rejected for that
    for i, value in enumerate(hostile):
        tx.loc[i, "buyer_id"] = value  # unknown buyer: rejected, written with its values
        tx.loc[10 + i, "category"] = value
        tx.loc[10 + i, "amount"] = "-5"  # not_positive_amount: the row is written too
    export = write(tmp_path / "export", {"transactions": tx})
    report = validate_export(export, KEY, rejects_dir=tmp_path / "rejects")
    assert report.tables["transactions"].rejected == 2 * len(hostile)
    text = (tmp_path / "rejects" / "transactions.rejects.csv").read_text()
    cells = _cells(text)
    _assert_no_live_formula(cells)
    assert "'" + HOSTILE[0] in cells and "'@SUM(A1:A9)" in cells
    assert "-5" in cells  # a plain number is not a formula and stays as it is


def test_formula_business_ids_are_escaped_in_score_out(tmp_path: Path) -> None:
    scores = pd.DataFrame(
        {
            "business_id": HOSTILE,
            "pd": 0.1,
            "score": 700,
            "grade": "B",
            "reasons": [[{"feature": "=cmd", "contribution": -0.5}]] * len(HOSTILE),
        }
    )
    out = tmp_path / "scores.csv"
    assert write_scores_csv(scores, out) == len(HOSTILE)
    cells = _cells(out.read_text())
    _assert_no_live_formula(cells)
    assert "'@SUM(A1:A9)" in cells


def test_formula_values_are_escaped_in_query_csv_output() -> None:
    result = QueryResult("top", ["business_id", "pagerank"], [{"business_id": v, "pagerank": -0.5}
                                                             for v in HOSTILE])  # fmt: skip
    cells = _cells(render(result, "csv"))
    _assert_no_live_formula(cells)
    assert "'" + HOSTILE[0] in cells and "-0.5" in cells
