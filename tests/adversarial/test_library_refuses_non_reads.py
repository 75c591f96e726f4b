"""The analysts' read-only query library refuses everything that is not a plain graph read.

Probes that ran under the READ-access session before: GDS projections, TERMINATE
TRANSACTIONS, db.clearQueryCaches(), SHOW USERS. Each is now refused before it runs, with an
error that says why; plain reads and the allow-listed schema procedures still run.
"""

from __future__ import annotations

from pathlib import Path

import neo4j
import pytest

from graph import query_library
from graph.query_library import (
    QueryRefusedError,
    adhoc_query,
    check_read_only,
    load_library,
    run_query,
)

pytestmark = pytest.mark.neo4j

#: (probe, what the refusal must name). Each ran through the library before the fix.
REFUSED = [
    (
        "CALL gds.graph.project('probe', 'Business', '*') YIELD graphName RETURN graphName",
        "CALL gds.graph.project",
    ),
    ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE"),
    ("CALL db.clearQueryCaches()", "CALL db.clearQueryCaches"),
    ("SHOW USERS", "SHOW"),
    ("SHOW TRANSACTIONS YIELD transactionId RETURN transactionId", "SHOW"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
    ("CALL apoc.cypher.run('MATCH (n) DETACH DELETE n', {}) YIELD value RETURN value", "apoc"),
    ("CALL `gds.graph.project`('probe', 'Business', '*')", "CALL"),
    ("MATCH (b:Business) CALL dbms.setConfigValue('x', 'y') RETURN b", "dbms.setConfigValue"),
]


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.cypher"
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize(("text", "named"), REFUSED, ids=[r[1] for r in REFUSED])
def test_admin_commands_and_unlisted_procedures_are_refused_before_they_run(
    neo4j_driver: neo4j.Driver, tmp_path: Path, text: str, named: str
) -> None:
    neo4j_driver.execute_query("CREATE (:Business {business_id: 'B1'})")
    with pytest.raises(QueryRefusedError, match=named):
        run_query(neo4j_driver, adhoc_query(_file(tmp_path, text)))
    assert neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 1


def test_gds_projection_through_the_library_leaves_no_graph_in_memory(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    try:
        neo4j_driver.execute_query("RETURN gds.version() AS v")
    except neo4j.exceptions.ClientError:
        pytest.skip("the test server has no GDS plugin")
    neo4j_driver.execute_query("CREATE (:Business {business_id: 'B1'})")
    probe = _file(tmp_path, REFUSED[0][0])
    with pytest.raises(QueryRefusedError):
        run_query(neo4j_driver, adhoc_query(probe))
    listed = neo4j_driver.execute_query("CALL gds.graph.list() YIELD graphName RETURN graphName")
    assert listed.records == []


def test_a_query_the_server_plans_as_a_write_is_refused_before_it_runs(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    probe = _file(tmp_path, "MERGE (b:Business {business_id: 'EVIL'}) RETURN b")
    with pytest.raises(QueryRefusedError, match="reads and writes"):
        run_query(neo4j_driver, adhoc_query(probe))
    assert neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 0


def test_schema_changes_are_refused_by_their_plan(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    probe = _file(tmp_path, "CREATE INDEX probe IF NOT EXISTS FOR (b:Business) ON (b.region)")
    with pytest.raises(QueryRefusedError, match="changes the schema"):
        run_query(neo4j_driver, adhoc_query(probe))
    indexes = neo4j_driver.execute_query("SHOW INDEXES YIELD name WHERE name = 'probe' RETURN name")
    assert indexes.records == []


def test_a_write_past_the_library_checks_is_still_refused_by_the_server(
    neo4j_driver: neo4j.Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: with the library's own checks switched off, the READ-access session
    still makes the server refuse the write."""
    monkeypatch.setattr(query_library, "check_read_only", lambda *a, **k: None)
    monkeypatch.setattr(query_library, "_check_planned_as_read", lambda *a, **k: None)
    probe = _file(tmp_path, "CREATE (:Business {business_id: 'EVIL'}) RETURN 1 AS done")
    with pytest.raises(neo4j.exceptions.ClientError) as refused:
        run_query(neo4j_driver, adhoc_query(probe))
    assert refused.value.code == "Neo.ClientError.Statement.AccessMode"
    assert neo4j_driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == 0


def test_allow_listed_procedures_and_subqueries_still_run(
    neo4j_driver: neo4j.Driver, tmp_path: Path
) -> None:
    neo4j_driver.execute_query("CREATE (:Business {business_id: 'B1', show: 1})")
    probe = _file(
        tmp_path,
        "CALL db.labels() YIELD label WITH collect(label) AS labels\n"
        "MATCH (b:Business) CALL (b) { RETURN b.show AS shown }\n"
        "RETURN labels, shown, 'SHOW USERS; CALL gds.graph.project' AS text // TERMINATE",
    )
    rows = run_query(neo4j_driver, adhoc_query(probe)).rows
    assert rows == [
        {"labels": ["Business"], "shown": 1, "text": "SHOW USERS; CALL gds.graph.project"}
    ]


def test_every_library_query_passes_the_read_only_check() -> None:
    for query in load_library().values():
        check_read_only(query.text, name=query.name)
