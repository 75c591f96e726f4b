"""``tradegraph load`` from the command line: exact reconciliation, clear errors, no data lost."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from graph.load import graph_counts
from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export
from tradegraph.cli.main import app


def test_load_twice_reconciles_and_changes_nothing(neo4j_driver, cli_env, tmp_path: Path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=200, seed=5))
    write_export(market, tmp_path / "export")
    runner = CliRunner()
    first = runner.invoke(app, ["load", str(tmp_path / "export"), "--demo"])
    assert first.exit_code == 0, first.output
    counts = graph_counts(neo4j_driver)
    assert counts["orders"] == len(market.transactions)
    assert counts["businesses"] == len(market.businesses)

    second = runner.invoke(app, ["load", str(tmp_path / "export"), "--demo"])
    assert second.exit_code == 0, second.output
    assert graph_counts(neo4j_driver) == counts
    record = neo4j_driver.execute_query(
        "MATCH (r:LoadRun) RETURN r ORDER BY r.started_at DESC LIMIT 1"
    ).records[0]["r"]
    assert record["status"] == "completed"


def test_load_without_key_refuses_and_writes_nothing(neo4j_driver, cli_env, tmp_path: Path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=60, seed=5))
    write_export(market, tmp_path / "export")
    result = CliRunner().invoke(app, ["load", str(tmp_path / "export")])
    assert result.exit_code == 2
    assert "TRADEGRAPH_HASH_KEY" in result.output
    assert not any(graph_counts(neo4j_driver).values())


def test_load_of_a_missing_folder_is_a_clear_error(cli_env, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", str(tmp_path / "nowhere"), "--demo"])
    assert result.exit_code == 2
    assert "not a folder" in result.output
