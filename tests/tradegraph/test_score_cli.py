"""`tradegraph train` then `tradegraph score` twice against a real Neo4j: grades, file, history."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph.load import load_frames
from graph.scores import grade_counts, score_history
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tradegraph.cli.main import app

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_train_then_score_twice(neo4j_driver, neo4j_server, tmp_path: Path, monkeypatch) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=2500, seed=5))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes,
                key_fingerprint="fp", batch_size=5000)  # fmt: skip
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.user)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.password)
    from tradegraph.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    models = tmp_path / "models"
    trained = runner.invoke(app, ["train", "--as-of", "2024-01-01", "--models-dir", str(models),
                                  "--folds", "3"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert list(models.glob("*/model_card.md"))
    out = tmp_path / "scores.csv"
    for as_of in ("2024-07-01", "2025-01-01"):
        scored = runner.invoke(app, ["score", "--as-of", as_of, "--models-dir", str(models),
                                     "--out", str(out)])  # fmt: skip
        assert scored.exit_code == 0, scored.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["business_id", "pd", "score", "grade", "reasons"]
    assert isinstance(json.loads(frame["reasons"].iloc[0]), list)
    counts = grade_counts(neo4j_driver)
    assert counts["businesses"].sum() >= len(frame)
    early = businesses.loc[businesses["registered_at"] < pd.Timestamp("2024-07-01", tz="UTC")]
    both = frame[frame["business_id"].isin(early["business_id"])]
    history = score_history(neo4j_driver, str(both["business_id"].iloc[0]))
    assert history["as_of"].dt.strftime("%Y-%m-%d").tolist() == ["2024-07-01", "2025-01-01"]
    get_settings.cache_clear()
