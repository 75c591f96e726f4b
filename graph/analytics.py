"""All-time graph analytics written back to ``(:Business)`` as properties, for analysts.

Through GDS when ``CALL gds.version()`` answers; otherwise (Community without the plugin,
the default here) the documented fallback: read the edges through Cypher into a DataFrame,
compute in Python (PageRank as networkx's power iteration on a scipy sparse matrix,
components and Louvain with networkx), write back in batches. Every analytic is
deterministic (fixed seed, component ids = smallest business_id in the component), so
re-running rewrites the same values: idempotent. These properties are all-time and must
never reach a model feature (snapshots do not read them).

Properties written:
    out_degree, in_degree, out_strength, in_strength  (TRADES_WITH partners and GMV)
    pagerank              PageRank on TRADES_WITH weighted by gmv (damping 0.85)
    identifier_component, identifier_component_size
                          weakly connected components over shared non-hub identifiers
    louvain_community     Louvain on the undirected trade graph weighted by gmv
                          (GDS when present, else networkx)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import neo4j
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sparse

from graph import cypher
from graph.session import read_frame, run, session

LOUVAIN_SEED = 42
_WRITE_BATCH = 10_000


def has_gds(driver: neo4j.Driver, *, database: str | None = None) -> bool:
    """Whether the Graph Data Science plugin answers on this server."""
    try:
        read_frame(driver, cypher.GDS_VERSION, database)
    except neo4j.exceptions.Neo4jError:
        return False
    return True


def _write_property_rows(
    driver: neo4j.Driver, frame: pd.DataFrame, properties: list[str], database: str | None
) -> None:
    """Write ``frame`` (business_id + properties) in batches of 10,000, each its own transaction."""
    query = cypher.set_business_properties(*properties)
    columns = ["business_id", *properties]
    lists = [frame[c].tolist() for c in columns]
    rows = [dict(zip(columns, r, strict=True)) for r in zip(*lists, strict=True)]

    def work(tx: neo4j.ManagedTransaction, chunk: list[dict[str, Any]]) -> None:
        tx.run(query, rows=chunk).consume()

    with session(driver, database) as s:
        for start in range(0, len(rows), _WRITE_BATCH):
            s.execute_write(work, rows[start : start + _WRITE_BATCH])


def _business_ids(driver: neo4j.Driver, database: str | None) -> list[str]:
    return read_frame(driver, cypher.ALL_BUSINESS_IDS, database)["business_id"].tolist()


def degree_and_strength(driver: neo4j.Driver, *, database: str | None = None) -> None:
    """In/out degree (trading partners) and strength (GMV) from TRADES_WITH, in Cypher."""
    run(driver, cypher.DEGREE_AND_STRENGTH, database)


def pagerank(driver: neo4j.Driver, *, database: str | None = None) -> None:
    """PageRank on TRADES_WITH weighted by gmv (GDS, else networkx)."""
    if has_gds(driver, database=database):
        # A projection left behind by an interrupted run would make the next one fail.
        run(driver, cypher.GDS_DROP_PROJECTION, database, name="tradegraph_trades")
        run(driver, cypher.GDS_PAGERANK, database)
        return
    ids = _business_ids(driver, database)
    edges = read_frame(driver, cypher.TRADE_EDGES, database)
    scores = weighted_pagerank(ids, edges["seller_id"], edges["buyer_id"], edges["gmv"])
    frame = pd.DataFrame({"business_id": ids, "pagerank": scores})
    _write_property_rows(driver, frame, ["pagerank"], database)


def weighted_pagerank(
    nodes: list[str],
    sources: pd.Series,
    targets: pd.Series,
    weights: pd.Series,
    *,
    alpha: float = 0.85,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> np.ndarray:
    """PageRank scores aligned with ``nodes`` (shape ``(len(nodes),)``, summing to 1).

    The power iteration of ``networkx.pagerank`` (uniform teleport and dangling mass, a node
    whose out-weights sum to 0 is dangling, stop when the L1 change < ``len(nodes) * tol``)
    on a scipy sparse matrix built straight from the edge columns: a networkx graph of the
    10M-order benchmark's ~10M pairs would need several GB. Edges naming unknown nodes raise.
    """
    n = len(nodes)
    if n == 0:
        return np.zeros(0)
    index = pd.Index(nodes)
    rows = index.get_indexer(sources.astype(object))
    cols = index.get_indexer(targets.astype(object))
    if (rows < 0).any() or (cols < 0).any():
        raise ValueError("an edge names a node that is not in the node list")
    matrix = sparse.csr_array(
        (weights.astype(float).to_numpy(), (rows, cols)), shape=(n, n), dtype=float
    )
    out_weight = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, out_weight, out=np.zeros(n), where=out_weight != 0)
    matrix = sparse.dia_array((inverse[np.newaxis, :], 0), shape=(n, n)).tocsr() @ matrix
    dangling = np.flatnonzero(out_weight == 0)
    teleport = np.full(n, 1.0 / n)
    x = teleport.copy()
    for _ in range(max_iter):
        previous = x
        x = alpha * (x @ matrix + x[dangling].sum() * teleport) + (1 - alpha) * teleport
        if np.abs(x - previous).sum() < n * tol:
            return x
    raise nx.PowerIterationFailedConvergence(max_iter)


def identifier_components(driver: neo4j.Driver, *, database: str | None = None) -> None:
    """Weakly connected components of businesses linked by shared non-hub identifiers.

    Component id is the smallest business_id in it; a business sharing nothing is its own
    component of size 1. (Computed in networkx also with GDS: the bipartite projection is
    small, and this keeps ids deterministic.)
    """
    ids = _business_ids(driver, database)
    links = read_frame(driver, cypher.NON_HUB_IDENTIFIER_LINKS, database)
    graph = nx.Graph()
    graph.add_nodes_from(("b", b) for b in ids)
    graph.add_edges_from(
        (("b", b), ("i", i)) for b, i in zip(links["business_id"], links["identifier"], strict=True)
    )
    component_of: dict[str, str] = {}
    size_of: dict[str, int] = {}
    for component in nx.connected_components(graph):
        members = sorted(name for kind, name in component if kind == "b")
        if not members:
            continue
        for member in members:
            component_of[member] = members[0]
            size_of[member] = len(members)
    frame = pd.DataFrame(
        {
            "business_id": list(component_of),
            "identifier_component": list(component_of.values()),
            "identifier_component_size": [size_of[b] for b in component_of],
        }
    )
    _write_property_rows(
        driver, frame, ["identifier_component", "identifier_component_size"], database
    )


def louvain(driver: neo4j.Driver, *, database: str | None = None) -> None:
    """Louvain communities on the undirected trade graph weighted by gmv.

    GDS when present (single-threaded, so runs repeat exactly), else networkx (seed 42; at 10M
    pairs networkx did not finish in 17 minutes). Community id is the smallest business_id in
    the community, so re-runs write the same ids.
    """
    if has_gds(driver, database=database):
        labels = _gds_louvain(driver, database)
    else:
        labels = _networkx_louvain(driver, database)
    smallest = labels.groupby("community")["business_id"].transform("min")
    frame = pd.DataFrame({"business_id": labels["business_id"], "louvain_community": smallest})
    _write_property_rows(driver, frame, ["louvain_community"], database)


def _gds_louvain(driver: neo4j.Driver, database: str | None) -> pd.DataFrame:
    """``business_id``, ``community`` (GDS's own ids) for every business."""
    name = "tradegraph_undirected"
    run(driver, cypher.GDS_DROP_PROJECTION, database, name=name)  # left by an interrupted run
    run(driver, cypher.GDS_PROJECT_UNDIRECTED_TRADES, database, name=name)
    try:
        labels = read_frame(driver, cypher.GDS_LOUVAIN_STREAM, database, name=name)
    finally:
        run(driver, cypher.GDS_DROP_PROJECTION, database, name=name)
    return labels.assign(business_id=labels["business_id"].astype(str))


def _networkx_louvain(driver: neo4j.Driver, database: str | None) -> pd.DataFrame:
    """``business_id``, ``community`` (a running number) for every business."""
    edges = read_frame(driver, cypher.TRADE_EDGES, database)
    graph = nx.Graph()
    graph.add_nodes_from(_business_ids(driver, database))
    for seller, buyer, gmv in zip(
        edges["seller_id"], edges["buyer_id"], edges["gmv"].astype(float), strict=True
    ):
        previous = graph.get_edge_data(seller, buyer, default={"weight": 0.0})["weight"]
        graph.add_edge(seller, buyer, weight=previous + gmv)
    communities = nx.community.louvain_communities(graph, weight="weight", seed=LOUVAIN_SEED)
    rows = [(member, number) for number, members in enumerate(communities) for member in members]
    return pd.DataFrame(rows, columns=["business_id", "community"])


ANALYTICS: dict[str, Callable[..., None]] = {
    "degree_strength": degree_and_strength,
    "pagerank": pagerank,
    "identifier_wcc": identifier_components,
    "louvain": louvain,
}


def run_all(
    driver: neo4j.Driver,
    *,
    database: str | None = None,
    only: list[str] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, float]:
    """Run the analytics (all, or those named in ``only``); returns seconds per analytic."""
    timings: dict[str, float] = {}
    for name, analytic in ANALYTICS.items():
        if only is not None and name not in only:
            continue
        started = time.perf_counter()
        analytic(driver, database=database)
        timings[name] = time.perf_counter() - started
        if progress is not None:
            progress(name, timings[name])
    return timings
