"""Crash-resume: SIGKILL a real load process mid-way, re-run, and get exactly a clean load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from graph.load import graph_counts, load_frames, read_pairs
from graph.session import read_frame
from tests.graph.frames import expected_pairs, make_frames, normalise_pairs
from tests.graph.test_load import RECOMPUTED_FROM_SOLD_TO

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    import neo4j, pandas as pd
    from graph.load import load_frames
    uri, user, password, folder = sys.argv[1:5]
    auth = None if user == "-" else (user, password)
    driver = neo4j.GraphDatabase.driver(uri, auth=auth)
    frames = {n: pd.read_parquet(f"{folder}/{n}.parquet")
              for n in ("businesses", "identifiers", "orders", "outcomes")}
    def progress(table, rows):
        print(table, rows, flush=True)
    load_frames(driver, frames["businesses"], frames["identifiers"],
                (frames["orders"].iloc[i:i + 500] for i in range(0, len(frames["orders"]), 500)),
                frames["outcomes"], key_fingerprint="fp", batch_size=50, progress=progress)
    print("done", flush=True)
    """
)


def _connection(driver) -> tuple[str, str, str]:
    """URI and credentials of the fixture's driver (read from the driver, for the child)."""
    address = driver._pool.address  # the test needs the same server in another process
    auth = driver._pool.pool_config.auth._auth
    user, password = ("-", "-") if auth is None else (auth[0], auth[1])
    return f"bolt://{address.host}:{address.port}", user, password


def test_killed_load_resumes_exactly(neo4j_driver, tmp_path: Path) -> None:
    frames = make_frames(n_businesses=60, n_orders=3000, seed=3)
    for name in ("businesses", "identifiers", "orders", "outcomes"):
        getattr(frames, name).to_parquet(tmp_path / f"{name}.parquet")
    uri, user, password = _connection(neo4j_driver)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, uri, user, password, str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    seen_order_batches = 0
    deadline = time.monotonic() + 120
    assert child.stdout is not None
    while seen_order_batches < 10 and time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, "child load ended before it could be killed"
        assert not line.startswith("done")
        seen_order_batches += line.startswith("orders")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    partial = graph_counts(neo4j_driver)["orders"]
    assert 0 < partial < len(frames.orders)
    # Whatever committed is batch-consistent: pair totals equal their orders.
    pd.testing.assert_frame_equal(
        normalise_pairs(read_pairs(neo4j_driver)),
        normalise_pairs(read_frame(neo4j_driver, RECOMPUTED_FROM_SOLD_TO)),
        check_exact=False,
        rtol=1e-12,
    )

    result = load_frames(
        neo4j_driver,
        frames.businesses,
        frames.identifiers,
        [frames.orders],
        frames.outcomes,
        key_fingerprint="fp",
        batch_size=50,
    )
    assert result.reconciles
    assert result.tables["orders"].inserted + result.tables["orders"].unchanged == len(
        frames.orders
    )
    assert result.tables["orders"].unchanged == partial
    counts = graph_counts(neo4j_driver)
    assert counts["orders"] == len(frames.orders)
    assert counts["businesses"] == len(frames.businesses)
    assert counts["outcomes"] == len(frames.outcomes)
    assert counts["identifier_links"] == len(frames.identifiers)
    pd.testing.assert_frame_equal(
        normalise_pairs(read_pairs(neo4j_driver)),
        expected_pairs(frames.orders),
        check_exact=False,
        rtol=1e-12,
    )
    runs = read_frame(
        neo4j_driver, "MATCH (r:LoadRun) RETURN r.status AS status ORDER BY r.started_at"
    )
    assert runs["status"].tolist() == ["running", "completed"]  # the killed run never finished
