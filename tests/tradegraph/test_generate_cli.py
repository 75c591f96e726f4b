"""`tradegraph generate`: writes the export, refuses to overwrite, and is deterministic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tradegraph.cli import generate_cmd


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    generate_cmd.register(app)
    app.command("version")(lambda: None)  # a second command keeps "generate" a subcommand
    return app


def test_generate_writes_contract_and_ground_truth(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["generate", str(out), "--businesses", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"businesses.csv", "transactions.csv", "outcomes.csv", "fx_rates.csv",
                     "ground_truth.csv", "credit_events.csv"}  # fmt: skip
    assert len(pd.read_csv(out / "businesses.csv")) == 300
    again = tmp_path / "again"
    CliRunner().invoke(app, ["generate", str(again), "--businesses", "300", "--seed", "3"])
    for name in names:
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_generate_parquet(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    args = ["generate", str(out), "-n", "200", "--format", "parquet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "transactions.parquet").exists()


def test_generate_refuses_to_overwrite_and_bad_sizes(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert CliRunner().invoke(app, ["generate", str(out), "-n", "200"]).exit_code == 0
    second = CliRunner().invoke(app, ["generate", str(out), "-n", "200"])
    assert second.exit_code == 2
    assert "--force" in second.output
    assert CliRunner().invoke(app, ["generate", str(out), "-n", "200", "--force"]).exit_code == 0
    tiny = CliRunner().invoke(app, ["generate", str(tmp_path / "tiny"), "-n", "10"])
    assert tiny.exit_code == 2
    assert "at least 50" in tiny.output
