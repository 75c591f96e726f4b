"""The PageRank fallback (no GDS): networkx's power iteration on a sparse matrix."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graph.analytics import weighted_pagerank


def test_weighted_pagerank_matches_networkx_on_a_random_graph() -> None:
    """The sparse fallback is networkx's own power iteration, without building its graph."""
    rng = np.random.default_rng(3)
    nodes = [f"B{i:03d}" for i in range(300)]
    src = rng.integers(0, 300, 1500)
    dst = rng.integers(0, 300, 1500)
    keep = src != dst
    edges = pd.DataFrame(
        {"s": np.array(nodes)[src[keep]], "t": np.array(nodes)[dst[keep]]}
    ).drop_duplicates()
    edges["w"] = rng.gamma(1.0, 100.0, len(edges))
    ours = weighted_pagerank(nodes, edges["s"], edges["t"], edges["w"])

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)  # includes dangling and isolated nodes
    graph.add_weighted_edges_from(edges[["s", "t", "w"]].itertuples(index=False))
    reference = nx.pagerank(graph, alpha=0.85, weight="weight", tol=1e-10)
    assert ours.sum() == pytest.approx(1.0)
    assert np.allclose(ours, [reference[n] for n in nodes], atol=1e-6)
