"""`tradegraph demo`, the README's main job, end to end against a real Neo4j on a small
marketplace: every stage runs, every SME is scored and written back with readable reasons,
clusters and the report exist, and a server that already holds data is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph import score_runs
from graph.clusters import latest_cluster_run
from graph.load import graph_counts
from graph.scores import grade_counts, read_latest_score
from tradegraph.cli.main import app
from tradegraph.demo import SCORE_AS_OF

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

STAGES = {
    "generate", "validate + load", "analytics", "snapshots", "train", "score + write back",
    "clusters", "report",
}  # fmt: skip


def test_demo_runs_every_stage_and_scores_every_sme(
    neo4j_driver, cli_env: Path, tmp_path: Path
) -> None:
    work = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "-n", "1500", "--work-dir", str(work)])
    assert result.exit_code == 0, result.output

    timings = json.loads((work / "demo-timings.json").read_text())
    assert set(timings) >= STAGES and any(s.startswith("evaluate") for s in timings)
    assert all(seconds >= 0 for seconds in timings.values())
    scores = pd.read_csv(work / "scores.csv")
    counts = graph_counts(neo4j_driver)
    assert counts["businesses"] >= len(scores) > 0
    assert scores["business_id"].is_unique
    graded = grade_counts(neo4j_driver)
    assert int(graded["businesses"].sum()) == len(scores)
    run = score_runs.latest_run(neo4j_driver)
    assert run is not None and run.complete and run.written == len(scores)
    riskiest = scores.sort_values("pd", ascending=False).head(20)
    for business_id in riskiest["business_id"].astype(str):
        stored = read_latest_score(neo4j_driver, business_id)
        assert stored is not None and stored["as_of"] == SCORE_AS_OF
        assert stored["reason_codes"] and len(stored["reason_details"]) == len(
            stored["reason_codes"]
        )
        assert not any("typical" in text for text in stored["reasons"])
    clusters = latest_cluster_run(neo4j_driver)
    assert clusters is not None
    report = work / "report" / "index.html"
    assert report.exists() and "tradegraph" in report.read_text().lower()
    assert list((cli_env / "models").glob("*/model_card.md"))
    assert "Top-10 riskiest SMEs" in result.output


def test_demo_refuses_a_named_server_that_holds_data(
    neo4j_driver, cli_env: Path, tmp_path: Path
) -> None:
    with neo4j_driver.session() as session:
        session.run("CREATE (:Business {business_id: 'someone-elses'})").consume()
    work = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "-n", "200", "--work-dir", str(work)])

    assert result.exit_code != 0
    assert "never writes into a database it did not start" in result.output
    assert not (work / "export").exists()
    with neo4j_driver.session() as session:
        kept = session.run("MATCH (b:Business) RETURN collect(b.business_id) AS ids").single()
    assert kept is not None and kept["ids"] == ["someone-elses"]
