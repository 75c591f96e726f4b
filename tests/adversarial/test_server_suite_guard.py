"""The test suite wipes a server named by TRADEGRAPH_TEST_NEO4J_URI only if it is a test one.

Probe that failed: pointing ``TRADEGRAPH_TEST_NEO4J_URI`` at a server holding real data made
the suite delete all of it without a question. Each case runs this repository's
``tests/conftest.py`` in a child pytest session against the suite's own Neo4j.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import neo4j
import pytest

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

INNER_TEST = """
def test_uses_the_database(neo4j_driver):
    neo4j_driver.execute_query("CREATE (:InnerProbe)")
"""


def _run_inner_suite(tmp_path: Path, server, **env: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "inner"
    folder.mkdir(exist_ok=True)
    shutil.copy(REPO / "tests" / "conftest.py", folder / "conftest.py")
    (folder / "test_inner.py").write_text(INNER_TEST)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADEGRAPH_TEST_NEO4J")},
        "PYTHONPATH": str(REPO),
        "TRADEGRAPH_TEST_NEO4J_URI": server.uri,
        "TRADEGRAPH_TEST_NEO4J_USER": server.user,
        "TRADEGRAPH_TEST_NEO4J_PASSWORD": server.password,
        **env,
    }
    options = ["-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(folder)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, "."],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _labels(driver: neo4j.Driver) -> list[str]:
    records = driver.execute_query(
        "MATCH (n) UNWIND labels(n) AS label RETURN DISTINCT label ORDER BY label"
    ).records
    return [r["label"] for r in records]


def test_the_suite_refuses_to_wipe_a_database_it_did_not_mark(
    neo4j_driver: neo4j.Driver, neo4j_server, tmp_path: Path
) -> None:
    neo4j_driver.execute_query("CREATE (:RealCustomerData {id: 1})")
    refused = _run_inner_suite(tmp_path, neo4j_server)
    assert refused.returncode != 0
    assert "holds data and no marker of this test suite" in refused.stdout
    assert _labels(neo4j_driver) == ["RealCustomerData"]  # nothing was deleted

    given_up = _run_inner_suite(tmp_path, neo4j_server, TRADEGRAPH_TEST_NEO4J_WIPE="yes")
    assert given_up.returncode == 0, given_up.stdout[-2000:]
    assert "RealCustomerData" not in _labels(neo4j_driver)


def test_the_suite_wipes_an_empty_or_marked_database_and_leaves_its_marker(
    neo4j_driver: neo4j.Driver, neo4j_server, tmp_path: Path
) -> None:
    first = _run_inner_suite(tmp_path, neo4j_server)  # empty at the start: a test database
    assert first.returncode == 0, first.stdout[-2000:]
    assert _labels(neo4j_driver) == ["InnerProbe", "TradegraphTestSuiteMarker"]
    second = _run_inner_suite(tmp_path, neo4j_server)  # data, but the suite's own marker
    assert second.returncode == 0, second.stdout[-2000:]
    assert _labels(neo4j_driver) == ["InnerProbe", "TradegraphTestSuiteMarker"]
