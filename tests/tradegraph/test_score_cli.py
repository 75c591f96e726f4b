"""`tradegraph train` then `tradegraph score` twice against a real Neo4j: grades, file, history."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph.load import load_frames
from graph.scores import grade_counts, read_latest_score, score_history
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tradegraph.cli.main import app

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_train_then_score_twice(neo4j_driver, cli_env: Path, tmp_path: Path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=2500, seed=5))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes,
                key_fingerprint="fp", batch_size=5000)  # fmt: skip
    runner = CliRunner()
    models = tmp_path / "models"
    trained = runner.invoke(app, ["train", "--as-of", "2024-01-01", "--models-dir", str(models),
                                  "--folds", "3", "--stack-months", "2"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert list(models.glob("*/model_card.md"))
    cohort = json.loads(next(models.glob("*/meta.json")).read_text())["metrics"]["cohort"]
    assert cohort["score_dates"] == ["2023-11-01", "2023-12-01", "2024-01-01"]
    assert cohort["labelled"] > cohort["businesses"]  # businesses labelled on several dates
    out = tmp_path / "scores.csv"
    for as_of in ("2024-07-01", "2025-01-01"):
        scored = runner.invoke(app, ["score", "--as-of", as_of, "--models-dir", str(models),
                                     "--out", str(out)])  # fmt: skip
        assert scored.exit_code == 0, scored.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "business_id", "pd", "score", "grade", "reasons", "reason_codes", "reason_details",
    ]  # fmt: skip
    first = frame.iloc[0]
    texts, codes = json.loads(first["reasons"]), json.loads(first["reason_codes"])
    assert isinstance(texts, list) and len(texts) == len(codes) >= 1
    stored = read_latest_score(neo4j_driver, str(first["business_id"]))
    assert stored is not None and stored["reason_codes"] == codes
    assert len(stored["reason_details"]) == len(codes)
    counts = grade_counts(neo4j_driver)
    assert counts["businesses"].sum() >= len(frame)
    early = businesses.loc[businesses["registered_at"] < pd.Timestamp("2024-07-01", tz="UTC")]
    both = frame[frame["business_id"].isin(early["business_id"])]
    history = score_history(neo4j_driver, str(both["business_id"].iloc[0]))
    assert history["as_of"].dt.strftime("%Y-%m-%d").tolist() == ["2024-07-01", "2025-01-01"]
    # the serving store holds the latest score date, and an earlier re-run leaves it there
    from gnn.neighbourhood import NeighbourhoodStore

    serving = cli_env / "serving"
    store = NeighbourhoodStore.open(serving)
    assert store is not None and store.as_of == pd.Timestamp("2025-01-01", tz="UTC")
    assert set(store.nodes(frame["business_id"].astype(str).tolist()[:5])["business_id"]) == set(
        frame["business_id"].astype(str).head(5)
    )
    again = runner.invoke(app, ["score", "--as-of", "2024-07-01", "--models-dir", str(models),
                                "--no-write"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert NeighbourhoodStore.open(serving).as_of == store.as_of  # type: ignore[union-attr]


def test_score_says_when_the_latest_run_is_incomplete_and_a_rerun_completes_it(
    neo4j_driver, cli_env: Path, tmp_path: Path, monkeypatch
) -> None:
    """Issue 13: a score stopped mid-write left a mixed book with nothing saying so."""
    import graph.scores
    from graph.score_runs import latest_run

    market = generate_marketplace(SyntheticConfig(n_businesses=2500, seed=5))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes,
                key_fingerprint="fp", batch_size=5000)  # fmt: skip
    monkeypatch.setenv("TRADEGRAPH_BATCH_SIZE", "200")
    from tradegraph.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    models = tmp_path / "models"
    trained = runner.invoke(
        app, ["train", "--as-of", "2024-01-01", "--models-dir", str(models), "--folds", "2"]
    )
    assert trained.exit_code == 0, trained.output

    real = graph.scores.write_batch
    calls = {"n": 0}

    def dies_in_second_batch(tx, batch, params) -> None:
        calls["n"] += 1
        real(tx, batch, params)
        if calls["n"] == 2:
            raise ConnectionResetError("connection to Neo4j lost mid-batch")

    score = ["score", "--as-of", "2024-07-01", "--models-dir", str(models)]
    with monkeypatch.context() as patch:
        patch.setattr(graph.scores, "write_batch", dies_in_second_batch)
        failed = runner.invoke(app, score)
    assert failed.exit_code == 1
    said = " ".join(failed.output.split())  # rich wraps long lines
    run = latest_run(neo4j_driver)
    # Two batches are written at once and the second call may be either; commits keep batch
    # order, so the run kept the first batch or nothing, and says which.
    assert run is not None and run.status == "failed" and run.written in (0, 200)
    assert f"incomplete ({run.written} of" in said
    assert "re-run the same `tradegraph score`" in said

    again = runner.invoke(app, score)
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "the latest score run as of 2024-07-01" in said and "incomplete (failed)" in said
    assert f"score run {run.run_id} complete" in said
    done = latest_run(neo4j_driver)
    assert done is not None and done.complete and done.written == done.total > 200
