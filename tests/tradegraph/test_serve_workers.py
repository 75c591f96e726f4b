"""``tradegraph serve --workers 2``: two worker processes on one port, each with its own app,
answering stored scores with the key and refusing requests without it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from graph.scores import write_scores
from tests.serve import start_serve, stop_serve

pytestmark = pytest.mark.neo4j

KEY = "workers-key-ABCDEFGHIJKLMNOP0123"


def _wait_for_workers(server: subprocess.Popen[str], base: str, workers: int) -> None:
    deadline = time.monotonic() + 240  # each worker imports the stack; CI machines are slow
    while True:
        assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
        children = psutil.Process(server.pid).children(recursive=True)
        try:
            up = httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            up = False
        if up and len([c for c in children if "python" in c.name()]) >= workers:
            return
        time.sleep(0.5)


def test_serve_with_two_workers_answers_stored_scores_from_each(
    neo4j_driver, neo4j_server, tmp_path: Path
) -> None:
    neo4j_driver.execute_query(
        "UNWIND $ids AS id CREATE (:Business {business_id: id, kind: 'sme'})", ids=["W1", "W2"]
    )
    scores = pd.DataFrame(
        {"business_id": ["W1", "W2"], "pd": [0.04, 0.2], "score": [710, 590],
         "grade": ["B", "E"], "reasons": [["r1"], ["r2"]]}
    )  # fmt: skip
    write_scores(neo4j_driver, scores, "2026-01-01", "m-workers")
    server, base = start_serve(neo4j_server, tmp_path, KEY, "--workers", "2")
    try:
        _wait_for_workers(server, base, 2)
        workers = [c.pid for c in psutil.Process(server.pid).children(recursive=True)]
        # Separate connections, so the kernel spreads them over both workers' accepts.
        answers = [
            httpx.get(f"{base}/businesses/W{1 + i % 2}/score", headers={"X-API-Key": KEY})
            for i in range(16)
        ]
        assert httpx.get(f"{base}/businesses/W1/score").status_code == 401
    finally:
        output = stop_serve(server)
    assert len(workers) >= 2, output
    assert [a.status_code for a in answers] == [200] * 16, output
    bodies = [a.json() for a in answers]
    assert {b["business_id"]: b["grade"] for b in bodies} == {"W1": "B", "W2": "E"}
    assert {(b["as_of"], b["model_version"]) for b in bodies} == {("2026-01-01", "m-workers")}
    assert output.count("Started server process") >= 2, output  # one app per worker
