"""`tradegraph train` under `torchrun --nproc-per-node 2` against a real Neo4j: GraphSAGE trains
data-parallel, rank 0 alone writes the model folder, and `tradegraph score` reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph.load import load_frames
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tradegraph.cli.main import app

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_torchrun_train_writes_one_artefact_that_score_reads(
    neo4j_driver, neo4j_server, tmp_path: Path, monkeypatch
) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=1500, seed=8))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes,
                key_fingerprint="fp", batch_size=5000)  # fmt: skip
    server = {"NEO4J_URI": neo4j_server.uri, "NEO4J_USER": neo4j_server.user,
              "NEO4J_PASSWORD": neo4j_server.password}  # fmt: skip
    env = {**os.environ, **server, "OMP_NUM_THREADS": "1", "TRADEGRAPH_TORCH_THREADS": "1"}
    models = tmp_path / "models"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "tradegraph.cli.main", "train", "--as-of", "2024-01-01", "--models-dir",
         str(models), "--folds", "2", "--champion", "graphsage"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stdout.count("champion: graphsage") == 1  # only rank 0 reports and writes
    folders = [p for p in models.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "sage").is_dir()
    assert json.loads((folders[0] / "meta.json").read_text())["champion"] == "graphsage"
    for key, value in server.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRADEGRAPH_HOME", str(tmp_path / "home"))  # its serving store
    from tradegraph.settings import get_settings

    get_settings.cache_clear()
    out = tmp_path / "scores.csv"
    scored = CliRunner().invoke(
        app, ["score", "--as-of", "2024-07-01", "--models-dir", str(models), "--out", str(out)]
    )
    assert scored.exit_code == 0, scored.output
    assert out.read_text().count("\n") > 100
    get_settings.cache_clear()
