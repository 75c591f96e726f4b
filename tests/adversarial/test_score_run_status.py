"""A score write-back that stops part-way is visible: its ``(:ScoreRun)`` reads incomplete in
Neo4j, in the API and after a kill, and re-running the same score completes it.

The failures are real: a writer whose transaction dies mid-run (the batch rolls back, as on
a lost connection), and a writer process killed with SIGKILL between batches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import neo4j
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import graph.scores
from graph.load import load_frames
from graph.score_runs import ScoreRunIncompleteError, latest_run, score_runs
from graph.scores import write_scores
from tests.graph.frames import make_frames
from tradegraph.api import create_app
from tradegraph.api.dependencies import RUN_TTL_S
from tradegraph.settings import Settings

pytestmark = pytest.mark.neo4j

OLD = pd.Timestamp("2025-07-01", tz="UTC")
NEW = pd.Timestamp("2026-01-01", tz="UTC")
BATCH = 5
KEY = "adversarial-key-0123456789"


def _load(driver: neo4j.Driver) -> list[str]:
    f = make_frames(n_businesses=23, n_orders=40)
    load_frames(driver, f.businesses, f.identifiers, [f.orders], f.outcomes,
                key_fingerprint="fp", batch_size=100)  # fmt: skip
    return f.businesses["business_id"].astype(str).tolist()


def _scores(ids: list[str], pd_: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": ids,
            "pd": pd_,
            "score": 700,
            "grade": "B",
            "reasons": [["r"] for _ in ids],
        }
    )


def _dates(driver: neo4j.Driver) -> dict[str, int]:
    records = driver.execute_query(
        "MATCH (b:Business) WHERE b.risk_as_of IS NOT NULL "
        "RETURN toString(date(b.risk_as_of)) AS day, count(*) AS n"
    ).records
    return {r["day"]: r["n"] for r in records}


def _die_in_batch_of(monkeypatch: pytest.MonkeyPatch, business_id: str) -> None:
    """The transaction of the batch holding ``business_id`` fails after writing (and so rolls
    back), as on a connection lost mid-batch. Batches are written two at a time
    (``graph.scores.WRITERS``), so the batch is named, not counted."""
    real = graph.scores.write_batch

    def writer(tx, batch, params) -> None:
        real(tx, batch, params)
        if any(row["business_id"] == business_id for row in batch):
            raise ConnectionResetError("connection to Neo4j lost mid-batch")

    monkeypatch.setattr(graph.scores, "write_batch", writer)


@pytest.fixture
def half_scored(neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A complete run as of OLD, then a run as of NEW that dies in its third batch, while the
    fourth is being written beside it: the fourth must not commit."""
    ids = _load(neo4j_driver)
    write_scores(neo4j_driver, _scores(ids, 0.1), OLD, "m1", batch_size=BATCH)
    _die_in_batch_of(monkeypatch, ids[2 * BATCH])
    with pytest.raises(ScoreRunIncompleteError, match="incomplete .*re-run") as failure:
        write_scores(neo4j_driver, _scores(ids, 0.2), NEW, "m2", batch_size=BATCH)
    assert failure.value.done == 2 * BATCH
    monkeypatch.undo()
    return ids


def test_score_run_stopped_mid_write_is_recorded_incomplete(neo4j_driver, half_scored) -> None:
    ids = half_scored
    # The mixed book the failure leaves behind...
    assert _dates(neo4j_driver) == {"2026-01-01": 2 * BATCH, "2025-07-01": len(ids) - 2 * BATCH}
    # ...is visible: the latest run is failed, with how far it got.
    run = latest_run(neo4j_driver)
    assert run is not None and not run.complete
    assert (run.status, run.written, run.total) == ("failed", 2 * BATCH, len(ids))
    assert (run.as_of, run.model_version) == (NEW, "m2")
    assert run.finished_at is not None
    older = [r for r in score_runs(neo4j_driver) if r.as_of == OLD]
    assert [(r.status, r.written) for r in older] == [("complete", len(ids))]


def test_score_run_rerun_completes_the_incomplete_run(neo4j_driver, half_scored) -> None:
    ids = half_scored
    result = write_scores(neo4j_driver, _scores(ids, 0.2), NEW, "m2", batch_size=BATCH)
    assert result.written == len(ids)
    assert _dates(neo4j_driver) == {"2026-01-01": len(ids)}
    run = latest_run(neo4j_driver)
    assert run is not None and run.run_id == result.run_id
    assert (run.status, run.written, run.total, run.attempts) == ("complete", len(ids),
                                                                  len(ids), 2)  # fmt: skip
    assert len(score_runs(neo4j_driver)) == 2  # the re-run completed the same run node


def test_score_run_incomplete_is_said_by_the_api(neo4j_driver, half_scored) -> None:
    ids = half_scored
    settings = Settings(_env_file=None, api_key=KEY)  # type: ignore[call-arg]
    client = TestClient(create_app(neo4j_driver, settings, score_function=lambda *a: None))
    headers = {"X-API-Key": KEY}
    reached = _dates_by_business(neo4j_driver)
    new_id = next(i for i in ids if reached[i] == "2026-01-01")
    old_id = next(i for i in ids if reached[i] == "2025-07-01")

    stale = client.get(f"/businesses/{old_id}/score", headers=headers).json()
    assert stale["as_of"] == "2025-07-01" and stale["model_version"] == "m1"
    assert "incomplete" in stale["notice"] and "earlier run" in stale["notice"]
    assert "tradegraph score --as-of 2026-01-01" in stale["notice"]
    fresh = client.get(f"/businesses/{new_id}/score", headers=headers).json()
    assert fresh["as_of"] == "2026-01-01" and "from that run" in fresh["notice"]
    batch = client.post("/score", headers=headers, json={"business_ids": [old_id]}).json()
    assert "incomplete" in batch["scores"][0]["notice"]
    health = client.get("/health").json()["score_run"]
    assert health["status"] == "failed" and health["written"] == 2 * BATCH
    assert health["total"] == len(ids) and health["as_of"] == "2026-01-01"

    write_scores(neo4j_driver, _scores(ids, 0.2), NEW, "m2", batch_size=BATCH)
    time.sleep(RUN_TTL_S)  # the API reads the latest run at most once per RUN_TTL_S
    assert client.get(f"/businesses/{old_id}/score", headers=headers).json()["notice"] is None
    assert client.get("/health").json()["score_run"]["status"] == "complete"


def _dates_by_business(driver: neo4j.Driver) -> dict[str, str]:
    records = driver.execute_query(
        "MATCH (b:Business) RETURN b.business_id AS id, toString(date(b.risk_as_of)) AS day"
    ).records
    return {r["id"]: r["day"] for r in records}


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import neo4j, pandas as pd
    import graph.scores
    from graph.scores import write_scores

    uri, user, password, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    real = graph.scores.write_batch

    def writer(tx, batch, params):
        if ids[2 * 5] in [row["business_id"] for row in batch]:
            os.kill(os.getpid(), signal.SIGKILL)  # killed as the third batch starts
        real(tx, batch, params)

    graph.scores.write_batch = writer
    driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
    frame = pd.DataFrame({"business_id": ids, "pd": 0.3, "score": 600, "grade": "C",
                          "reasons": [["r"] for _ in ids]})
    write_scores(driver, frame, "2026-01-01", "m-killed", batch_size=5)
    """
)


def test_score_run_killed_mid_write_stays_running_and_reads_incomplete(
    neo4j_driver, neo4j_server, tmp_path: Path
) -> None:
    ids = _load(neo4j_driver)
    write_scores(neo4j_driver, _scores(ids, 0.1), OLD, "m1", batch_size=BATCH)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, str(script), neo4j_server.uri, neo4j_server.user,
         neo4j_server.password, ",".join(ids)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    run = latest_run(neo4j_driver)
    assert run is not None and run.model_version == "m-killed"
    # The first batch had committed; the second, written beside it, may have committed too.
    # Either way the run counts exactly what Neo4j kept, and it is a prefix of the batches.
    assert (run.status, run.total) == ("running", len(ids))
    assert run.written in (BATCH, 2 * BATCH)
    assert not run.complete and "incomplete (running)" in run.describe()
    assert _dates(neo4j_driver) == {"2026-01-01": run.written, "2025-07-01": len(ids) - run.written}
    assert set(_dates_by_business(neo4j_driver)[i] for i in ids[: run.written]) == {"2026-01-01"}
