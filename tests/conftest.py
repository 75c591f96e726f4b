"""Fixtures shared by the whole suite, above all a real Neo4j the suite starts itself.

The ``neo4j`` tests run against a server this suite starts in a temporary data folder on a
free port, and wipe it before each test. They never touch the server named by the user's
``NEO4J_URI``: only a server named by the test-only ``TRADEGRAPH_TEST_NEO4J_URI`` (with
``TRADEGRAPH_TEST_NEO4J_PASSWORD``) is used instead, and then it is wiped too — so point that
variable only at a throwaway server. Before touching it the suite checks that it is one: its
database must be empty, or hold the marker node a previous run of this suite left at its end
(``(:TradegraphTestSuiteMarker)``), or ``TRADEGRAPH_TEST_NEO4J_WIPE=yes`` must be set;
otherwise the ``neo4j`` tests fail with that message and nothing is deleted. Under CI
(``CI=true``) a server that will not start fails the run instead of skipping the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

# Tests hash identifiers with the public demo key, never a deployment's key.
os.environ.pop("TRADEGRAPH_HASH_KEY", None)


_RAN_AGAINST: list[str] = []
#: Left by the suite at the end of a session on a server named by TRADEGRAPH_TEST_NEO4J_URI,
#: so the next session knows the data it finds there is the suite's own.
TEST_MARKER_LABEL = "TradegraphTestSuiteMarker"


@dataclass(frozen=True)
class TestServer:
    uri: str
    user: str
    password: str
    data_dir: Path | None  # None for a server named by TRADEGRAPH_TEST_NEO4J_URI


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    """A real Neo4j for the session: the suite's own local server, stopped at the end."""
    if uri := os.environ.get("TRADEGRAPH_TEST_NEO4J_URI"):
        server = TestServer(
            uri=uri,
            user=os.environ.get("TRADEGRAPH_TEST_NEO4J_USER", "neo4j"),
            password=os.environ.get("TRADEGRAPH_TEST_NEO4J_PASSWORD", ""),
            data_dir=None,
        )
        require_test_database(server)
        _RAN_AGAINST.append(f"test server named by TRADEGRAPH_TEST_NEO4J_URI={uri}")
        yield server
        _mark_test_database(server)
        return
    from graph.server import local
    from graph.server.errors import Neo4jSetupError

    data_dir = tmp_path_factory.mktemp("neo4j-test-server")
    config = local.LocalServerConfig(
        data_dir=data_dir,
        bolt_port=free_port(),
        heap=os.environ.get("TRADEGRAPH_TEST_NEO4J_HEAP", "1500m"),
        pagecache=os.environ.get("TRADEGRAPH_TEST_NEO4J_PAGECACHE", "1g"),
    )
    try:
        info = local.start(config)
    except Neo4jSetupError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the neo4j tests, but the test server did not start: {err}")
        pytest.skip(f"no Neo4j for the neo4j tests: {err}")
    _RAN_AGAINST.append(f"local Neo4j {config.version} started by the suite at {info.uri}")
    try:
        yield TestServer(uri=info.uri, user=info.user, password=info.password, data_dir=data_dir)
    finally:
        local.stop(config)


def require_test_database(server: TestServer) -> None:
    """Fail (deleting nothing) unless the server named by TRADEGRAPH_TEST_NEO4J_URI is a
    test database: empty, marked by an earlier run of this suite, or explicitly given up
    with TRADEGRAPH_TEST_NEO4J_WIPE=yes."""
    if os.environ.get("TRADEGRAPH_TEST_NEO4J_WIPE", "").strip().lower() == "yes":
        return
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
        row = driver.execute_query(
            f"RETURN EXISTS {{ MATCH (n) }} AS has_data, "
            f"EXISTS {{ MATCH (m:{TEST_MARKER_LABEL}) }} AS marked"
        ).records[0]
    if row["has_data"] and not row["marked"]:
        pytest.fail(
            f"TRADEGRAPH_TEST_NEO4J_URI={server.uri} holds data and no marker of this test "
            "suite, and the neo4j tests delete everything in it. Point it at an empty, "
            "throwaway server, or set TRADEGRAPH_TEST_NEO4J_WIPE=yes if its data may be lost.",
            pytrace=False,
        )


def _mark_test_database(server: TestServer) -> None:
    """Leave the marker that lets the next session wipe this server without asking."""
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
        driver.execute_query(f"MERGE (:{TEST_MARKER_LABEL} {{created_by: 'tradegraph-tests'}})")


@pytest.fixture(scope="session")
def _session_driver(neo4j_server: TestServer):
    from neo4j import GraphDatabase

    driver = GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password))
    driver.verify_connectivity()
    yield driver
    driver.close()


def wipe_database(driver) -> None:
    """Delete every node, relationship, constraint and index of the default database."""
    with driver.session() as session:  # CALL ... IN TRANSACTIONS needs an implicit transaction
        session.run(
            "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
    for record in driver.execute_query("SHOW CONSTRAINTS YIELD name").records:
        driver.execute_query(f"DROP CONSTRAINT `{record['name']}` IF EXISTS")
    for record in driver.execute_query(
        "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"
    ).records:
        driver.execute_query(f"DROP INDEX `{record['name']}` IF EXISTS")


@pytest.fixture
def neo4j_driver(_session_driver, neo4j_server: TestServer):
    """A driver to the suite's Neo4j, with the database wiped before the test."""
    wipe_database(_session_driver)
    return _session_driver


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One real Spark session (``local[2]``, 1 GiB) for every test that needs Spark."""
    from loaders.spark.session import SparkOptions, spark_session

    session = spark_session(SparkOptions(master="local[2]", driver_memory="1g"))
    yield session
    session.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the real server are marked ``neo4j`` even if their author forgot."""
    for item in items:
        if "neo4j_driver" in getattr(item, "fixturenames", ()) or "neo4j_server" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.neo4j)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say which server the ``neo4j`` tests ran against and how many ran, so a CI log shows it."""
    reports = [
        r
        for key in ("passed", "failed", "error", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "call") == "call" and "neo4j" in getattr(r, "keywords", {})
    ]
    if not reports:
        return
    by_outcome: dict[str, int] = {}
    for report in reports:
        by_outcome[report.outcome] = by_outcome.get(report.outcome, 0) + 1
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(by_outcome.items()))
    where = _RAN_AGAINST[0] if _RAN_AGAINST else "servers the tests started themselves"
    terminalreporter.write_line(f"neo4j tests: {counts} against {where}")
