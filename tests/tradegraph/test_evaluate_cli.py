"""``tradegraph evaluate`` on the real Neo4j: reads both cohorts, prints the table, writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph.load import load_export
from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export
from tradegraph.cli.main import app
from tradegraph.settings import DEMO_HASH_KEY


@pytest.mark.slow
def test_evaluate_reads_snapshots_and_writes_json(
    neo4j_driver, cli_env: Path, tmp_path: Path
) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=1200, seed=21))
    write_export(market, tmp_path / "export")
    load_export(
        neo4j_driver, tmp_path / "export", DEMO_HASH_KEY.encode(), rejects_dir=tmp_path / "r"
    )
    out = tmp_path / "nested" / "runs" / "evaluation.json"  # parents are created
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--train-as-of", "2024-01-01",
            "--test-as-of", "2025-01-01",
            "--seeds", "2",
            "--folds", "3",
            "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(b) LightGBM own+counterparty" in result.output
    payload = json.loads(out.read_text())
    assert {row["model"] for row in payload["table"]} == {
        "trees_own", "trees_own_cp", "graphsage", "hybrid"
    }  # fmt: skip
    assert payload["champion"] in payload["cv_auc"]
    lead = payload["intervals"]["all"]["graphsage"]["auc_minus_trees_own_cp"]
    assert lead["low"] <= lead["estimate"] <= lead["high"]
    assert payload["predictions"]
