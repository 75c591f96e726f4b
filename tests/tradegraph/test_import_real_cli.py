"""``tradegraph import-real``: converts, prints the reconciliation, refuses bad input cleanly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tradegraph.cli import real_cmd

RATINGS = "from,to,feature,time\n6,2,4,1289241911.72836\n2,2,1,1289241912\n2,5,-3,1289300000\n"
LABELS = "2,-1\n6,+1\n"
EDGES = ",from,to,amount,n_transactions,timestamp\n0,1,2,1.5,2,1497275319\n1,2,1,0,1,1497275320\n"
NODES = ",id,label,has_label,is_train,is_test\n0,1,1.0,True,True,False\n1,2,,False,False,False\n"


@pytest.fixture
def app() -> typer.Typer:
    """An app holding only this area's command (as ``tradegraph.cli.main`` registers it)."""
    application = typer.Typer()

    @application.callback()
    def root() -> None:
        """Keep ``import-real`` a subcommand."""

    real_cmd.register(application)
    return application


def bitcoin_source(folder: Path) -> Path:
    folder.mkdir()
    (folder / "soc-sign-bitcoinotc.csv").write_text(RATINGS, encoding="utf-8")
    (folder / "otc_gt.csv").write_text(LABELS, encoding="utf-8")
    return folder


def ethereum_source(folder: Path) -> Path:
    folder.mkdir()
    (folder / "edges.csv").write_text(EDGES, encoding="utf-8")
    (folder / "nodes_train_test_split.csv").write_text(NODES, encoding="utf-8")
    return folder


def test_bitcoin_import_writes_export_and_prints_reconciliation(app, tmp_path: Path) -> None:
    src, out = bitcoin_source(tmp_path / "src"), tmp_path / "out"
    result = CliRunner().invoke(app, ["import-real", "bitcoin-otc", str(src), str(out)])
    assert result.exit_code == 0, result.output
    assert "soc-sign-bitcoinotc.csv" in result.output
    assert "1 self-loop" in result.output
    assert "NO" not in result.output
    assert len(pd.read_csv(out / "transactions.csv")) == 2
    assert len(pd.read_csv(out / "outcomes.csv")) == 2


def test_ethereum_import_reports_zero_amounts_and_unlabelled(app, tmp_path: Path) -> None:
    src, out = ethereum_source(tmp_path / "src"), tmp_path / "out"
    result = CliRunner().invoke(app, ["import-real", "ethereum-phishing", str(src), str(out)])
    assert result.exit_code == 0, result.output
    assert "1 zero amount" in result.output
    assert "1 unlabelled node" in result.output
    assert pd.read_csv(out / "outcomes.csv")["split"].tolist() == ["train"]


def test_refuses_to_overwrite_an_export_unless_asked(app, tmp_path: Path) -> None:
    src, out = bitcoin_source(tmp_path / "src"), tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(app, ["import-real", "bitcoin-otc", str(src), str(out)]).exit_code == 0
    again = runner.invoke(app, ["import-real", "bitcoin-otc", str(src), str(out)])
    assert again.exit_code == 2
    assert "--overwrite" in again.output
    forced = runner.invoke(app, ["import-real", "bitcoin-otc", str(src), str(out), "--overwrite"])
    assert forced.exit_code == 0, forced.output


def test_wrong_folder_is_a_clear_error_without_traceback(app, tmp_path: Path) -> None:
    src = ethereum_source(tmp_path / "src")  # an Ethereum folder passed as Bitcoin OTC
    result = CliRunner().invoke(app, ["import-real", "bitcoin-otc", str(src), str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "soc-sign-bitcoinotc.csv" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_unknown_dataset_is_rejected(app, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import-real", "nope", str(tmp_path), str(tmp_path / "o")])
    assert result.exit_code == 2
