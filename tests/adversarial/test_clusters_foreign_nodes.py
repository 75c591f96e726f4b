"""`clusters` deletes, lists and decides only the :Cluster nodes tradegraph created.

Probe that failed: another application's undecided ``:Cluster`` node in the same database was
``DETACH DELETE``d by every ``tradegraph clusters`` run.
"""

from __future__ import annotations

import neo4j
import pytest

from graph.clusters import Cluster, ClusterError, list_clusters, mark, write_clusters

pytestmark = pytest.mark.neo4j

FOREIGN = """
CREATE (b:Business {business_id: 'B1'})
CREATE (b)-[:IN_CLUSTER]->(:Cluster {cluster_id: 'theirs-1', kind: 'customer_segment',
                                     suspicion: 0.99, owner: 'crm'})
CREATE (:Business {business_id: 'B2'})
"""

OURS = Cluster("wash_trading-abc", "wash_trading", ("B1", "B2"), 0.5, ("probe",))


def _foreign(driver: neo4j.Driver) -> list[dict]:
    records = driver.execute_query(
        "MATCH (c:Cluster {cluster_id: 'theirs-1'}) "
        "RETURN c.kind AS kind, c.verdict AS verdict, "
        "COUNT { (c)<-[:IN_CLUSTER]-() } AS members"
    ).records
    return [dict(r) for r in records]


def test_a_foreign_undecided_cluster_survives_every_clusters_run(
    neo4j_driver: neo4j.Driver,
) -> None:
    neo4j_driver.execute_query(FOREIGN)
    first = write_clusters(neo4j_driver, [OURS])
    second = write_clusters(neo4j_driver, [])  # replaces our undecided cluster by nothing
    assert (first.replaced, second.replaced) == (0, 1)
    assert _foreign(neo4j_driver) == [{"kind": "customer_segment", "verdict": None, "members": 1}]
    ours = neo4j_driver.execute_query(
        "MATCH (c:Cluster {created_by: 'tradegraph'}) RETURN count(c) AS n"
    ).records[0]["n"]
    assert ours == 0


def test_foreign_clusters_are_neither_listed_nor_decided(neo4j_driver: neo4j.Driver) -> None:
    neo4j_driver.execute_query(FOREIGN)
    write_clusters(neo4j_driver, [OURS])
    listed = list_clusters(neo4j_driver, include_decided=True)
    assert [r["cluster_id"] for r in listed] == [OURS.cluster_id]
    with pytest.raises(ClusterError, match="No cluster 'theirs-1'"):
        mark(neo4j_driver, "theirs-1", "confirmed", "not ours to judge", "alice")
    assert _foreign(neo4j_driver) == [{"kind": "customer_segment", "verdict": None, "members": 1}]
    outcomes = neo4j_driver.execute_query("MATCH (o:Outcome) RETURN count(o) AS n")
    assert outcomes.records[0]["n"] == 0
