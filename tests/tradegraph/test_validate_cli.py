"""`tradegraph validate`: exit codes, report, rejects; runs on a copy of examples/export."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tradegraph.cli import validate_cmd
from tradegraph.settings import get_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "export"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """The validate command alone, with settings isolated from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRADEGRAPH_HASH_KEY", raising=False)
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    app = typer.Typer()
    validate_cmd.register(app)
    app.command("version")(lambda: None)  # a second command keeps "validate" a subcommand
    yield app
    get_settings.cache_clear()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "export"))


def test_example_export_validates_cleanly(app: typer.Typer, export: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["validate", str(export), "--demo", "--rejects", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["reconciles"] and all(t["rejected"] == 0 for t in report["tables"].values())
    assert report["tables"]["transactions"]["read"] == 7
    assert "transactions" in result.output


def test_rejected_rows_reported_by_reason_exit_zero(
    app: typer.Typer, export: Path, tmp_path: Path
) -> None:
    path = export / "transactions.csv"
    path.write_text(path.read_text().replace("T0004,B001,B003", "T0004,B003,B003"))
    rejects = tmp_path / "r"
    result = CliRunner().invoke(app, ["validate", str(export), "--demo", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "buyer_is_seller" in result.output
    lines = (rejects / "transactions.rejects.csv").read_text().splitlines()
    assert lines[0].startswith("line,reason,txn_id") and lines[1].startswith(
        "5,buyer_is_seller,T0004"
    )


def test_default_rejects_folder_is_under_runs(
    app: typer.Typer, export: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["validate", str(export), "--demo"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "home" / "runs").glob("validate-*/report.json"))


def test_structural_error_exits_2_and_writes_nothing(
    app: typer.Typer, export: Path, tmp_path: Path
) -> None:
    (export / "businesses.csv").write_text("business_id,kind\nB1,sme\n")
    rejects = tmp_path / "r"
    result = CliRunner().invoke(app, ["validate", str(export), "--demo", "--rejects", str(rejects)])
    assert result.exit_code == 2
    assert "businesses.csv" in result.output and "registered_at" in result.output
    assert "Traceback" not in result.output
    assert not rejects.exists()


def test_missing_key_exits_2_unless_demo(app: typer.Typer, export: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(export)])
    assert result.exit_code == 2
    assert "TRADEGRAPH_HASH_KEY" in result.output


def test_stray_quote_is_reported_by_line_and_counts_every_line(
    app: typer.Typer, export: Path, tmp_path: Path
) -> None:
    path = export / "transactions.csv"
    text = (
        path.read_text()
        .replace(",,furniture", ',,"furniture')
        .replace(",upholstery\nT0005", ',uphol"stery\nT0005')
    )
    path.write_text(text)
    rejects = tmp_path / "r"
    result = CliRunner().invoke(app, ["validate", str(export), "--demo", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "quoted_line_break" in result.output
    report = json.loads((rejects / "report.json").read_text())
    tally = report["tables"]["transactions"]
    assert (tally["read"], tally["kept"], tally["rejected"]) == (7, 4, 3)
    assert report["reconciles"] and tally["rejected_by_reason"] == {"quoted_line_break": 3}
    written = pd.read_csv(rejects / "transactions.rejects.csv", dtype="str")
    assert written["line"].tolist() == ["3", "4", "5"]
    assert written["txn_id"].tolist()[0] == "T0002"  # the record's values on its first line
