"""Score a few businesses from their neighbourhood, not the whole marketplace.

A full run (``tradegraph score``) writes, for its score date, what scoring any one business
needs into a :class:`NeighbourhoodStore` (Parquet, sorted by business id):

* ``nodes``: every business's features (the frozen-reference ones the model reads), kind,
  thin-file flag and graph position;
* ``edges``: for every business, the counterparties the model aggregates (its top
  ``SAGEConfig.max_neighbours`` per trade direction, :func:`gnn.conv.trade_relations`) and
  its identifier links, with the raw edge weight;
* ``pairs``: the year of trade the reasons quote (seller, buyer, GMV, orders).

:func:`prepare_neighbourhood` then takes only the targets' rows (the store's tables are read
into memory once and looked up by binary search on the sorted ids), their kept counterparties,
those counterparties' kept counterparties (as many hops as the GraphSAGE has layers) and the
targets' own trade partners, and builds a small graph in the full graph's node order. Every
node the targets' scores read aggregates over the same kept counterparties with the same
weights as in the full graph (a node's top K among a superset that holds them is the same
top K, ties going to the lower position), so PDs, scores, grades and reasons equal the full
run's (``tests/gnn/test_neighbourhood.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch_geometric.data import Data

from gnn.artefact import Artefact
from gnn.conv import trade_relations
from gnn.data import GraphData
from gnn.reasons import GraphCache
from gnn.scoring import PreparedScores, input_scaler, raw_probability
from loaders.columns import as_utc

NODES, EDGES, PAIRS, META = "nodes.parquet", "edges.parquet", "pairs.parquet", "meta.json"
#: ``edges.relation``: the node aggregates its sellers, its buyers, or a business it shares
#: an identifier with (``gnn.data.RELATIONS`` order).
BUYS_FROM, SELLS_TO, SHARES_IDENTIFIER = 0, 1, 2
#: ``nodes`` columns beside the features: graph position, kind, thin-file flag.
POSITION, KIND, THIN = "_position", "_kind", "_thin"
#: Rows per Parquet row group (ids sorted, so a reader can skip groups by their statistics).
ROW_GROUP = 8_192


def _table(frame: pd.DataFrame, sort_by: str) -> pa.Table:
    return pa.Table.from_pandas(frame.sort_values(sort_by, kind="stable"), preserve_index=False)


def kept_edges(graph: GraphData, max_neighbours: int | None) -> pd.DataFrame:
    """``node_id, neighbour_id, relation, weight``: what each node aggregates, per relation."""
    data, ids = graph.data, graph.business_ids.astype(str)
    relations = trade_relations(data.edge_index, data.edge_weight, max_neighbours)
    parts = [
        (relation, messages[1].numpy(), messages[0].numpy(), weight.numpy())
        for relation, (messages, weight) in zip((BUYS_FROM, SELLS_TO), relations, strict=True)
    ]
    id_src, id_dst = data.id_edge_index.numpy()
    parts.append((SHARES_IDENTIFIER, id_dst, id_src, np.ones(len(id_src), dtype=np.float32)))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "node_id": ids[node],
                    "neighbour_id": ids[neighbour],
                    "relation": np.int8(relation),
                    "weight": weight.astype(np.float32),
                }
            )
            for relation, node, neighbour, weight in parts
        ],
        ignore_index=True,
    )


@dataclass(frozen=True)
class NeighbourhoodStore:
    """One score date's serving store in ``folder`` (see the module docstring)."""

    folder: Path
    as_of: pd.Timestamp
    model_version: str
    hops: int
    #: When it was written: a re-run for the same date and model is a different store.
    written_at: str = ""

    @classmethod
    def write(cls, prepared: PreparedScores, folder: Path) -> NeighbourhoodStore:
        """Write ``prepared``'s store into ``folder``, replacing what is there only once the
        new one is complete (written beside it, then renamed)."""
        artefact, graph = prepared.artefact, prepared.graph
        sage = artefact.sage
        hops = 0 if sage is None else sage.sage_config.num_layers
        cap = None if sage is None else sage.sage_config.max_neighbours
        ids = graph.business_ids.astype(str)
        nodes = prepared.features.reset_index(drop=True).assign(
            business_id=ids,
            **{
                POSITION: np.arange(len(ids), dtype=np.int64),
                KIND: prepared.kind.to_numpy(dtype=str),
                THIN: graph.data.thin.numpy().astype(bool),
            },
        )
        staging = folder.with_name(f".{folder.name}.{os.getpid()}.new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        pq.write_table(_table(nodes, "business_id"), staging / NODES, row_group_size=ROW_GROUP)
        edges = kept_edges(graph, cap)
        pq.write_table(_table(edges, "node_id"), staging / EDGES, row_group_size=ROW_GROUP)
        pairs = prepared.pairs[["seller_id", "buyer_id", "gmv", "orders"]].astype(
            {"seller_id": str, "buyer_id": str}
        )
        pq.write_table(_table(pairs, "seller_id"), staging / PAIRS, row_group_size=ROW_GROUP)
        written_at = pd.Timestamp.now(tz="UTC").isoformat()
        meta = {"as_of": prepared.as_of.isoformat(), "model_version": artefact.model_version,
                "hops": hops, "max_neighbours": cap, "businesses": len(ids),
                "written_at": written_at}  # fmt: skip
        (staging / META).write_text(json.dumps(meta, indent=2))
        old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return cls(folder, prepared.as_of, artefact.model_version, hops, written_at)

    @classmethod
    def publish(cls, prepared: PreparedScores, folder: Path) -> NeighbourhoodStore | None:
        """Write ``prepared``'s store unless ``folder`` holds one of a later score date (the
        store serves the latest full run); returns the store written, or None."""
        current = cls.open(folder)
        if current is not None and current.as_of > prepared.as_of:
            return None
        return cls.write(prepared, folder)

    @classmethod
    def open(cls, folder: Path) -> NeighbourhoodStore | None:
        """The store in ``folder``, or None when there is none (no full run yet)."""
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        return cls(
            folder, as_utc(meta["as_of"]), str(meta["model_version"]), int(meta["hops"]),
            str(meta.get("written_at", "")),
        )  # fmt: skip

    def _tables(self) -> _Tables:
        key = (self.folder, self.written_at)
        with _LOCK:
            tables = _OPEN.get(key)
            if tables is None:
                tables = _Tables.read(self.folder)
                _OPEN.clear()  # one store is served at a time: the latest run's
                _OPEN[key] = tables
            return tables

    def nodes(self, ids: list[str]) -> pd.DataFrame:
        """The rows of ``ids`` that the store holds (unknown ids are absent)."""
        return self._tables().nodes.rows(ids)

    def edges(self, ids: list[str]) -> pd.DataFrame:
        """What ``ids`` aggregate: their kept counterparties and identifier links."""
        return self._tables().edges.rows(ids)

    def pairs(self, ids: list[str]) -> pd.DataFrame:
        """The year's trade pairs in which one of ``ids`` sells or buys."""
        tables = self._tables()
        both = pd.concat([tables.sales.rows(ids), tables.purchases.rows(ids)])
        return both.drop_duplicates(["seller_id", "buyer_id"], ignore_index=True)


@dataclass(frozen=True)
class _Sorted:
    """A frame sorted by one key column, looked up by binary search."""

    frame: pd.DataFrame
    keys: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, key: str) -> _Sorted:
        frame = frame.sort_values(key, kind="stable", ignore_index=True)
        return cls(frame, frame[key].to_numpy(dtype=str))

    def rows(self, ids: list[str]) -> pd.DataFrame:
        wanted = np.unique(np.asarray(ids, dtype=str))
        start = np.searchsorted(self.keys, wanted, side="left")
        end = np.searchsorted(self.keys, wanted, side="right")
        hit = end > start
        if not hit.any():
            return self.frame.iloc[:0]
        counts = end[hit] - start[hit]
        offsets = np.repeat(start[hit] - np.r_[0, np.cumsum(counts)[:-1]], counts)
        return self.frame.iloc[offsets + np.arange(int(counts.sum()))]


@dataclass(frozen=True)
class _Tables:
    """A store's tables in memory, read once per store (a few MB per 10k businesses)."""

    nodes: _Sorted
    edges: _Sorted
    sales: _Sorted
    purchases: _Sorted

    @classmethod
    def read(cls, folder: Path) -> _Tables:
        pairs = pq.read_table(folder / PAIRS).to_pandas()
        return cls(
            _Sorted.of(pq.read_table(folder / NODES).to_pandas(), "business_id"),
            _Sorted.of(pq.read_table(folder / EDGES).to_pandas(), "node_id"),
            _Sorted.of(pairs, "seller_id"),
            _Sorted.of(pairs, "buyer_id"),
        )


#: The store tables in memory, by (folder, when written): the latest one opened.
_OPEN: dict[tuple[Path, str], _Tables] = {}
_LOCK = threading.Lock()


def _subgraph(
    nodes: pd.DataFrame, edges: pd.DataFrame, artefact: Artefact, as_of: pd.Timestamp
) -> GraphData:
    """The neighbourhood as a :class:`GraphData`, rows in the full graph's order."""
    ids = pd.Index(nodes["business_id"].astype(str), name="business_id")
    node, neighbour = ids.get_indexer(edges["node_id"]), ids.get_indexer(edges["neighbour_id"])
    relation = edges["relation"].to_numpy()
    inside = (node >= 0) & (neighbour >= 0)
    trade = inside & (relation != SHARES_IDENTIFIER)
    seller = np.where(relation == BUYS_FROM, neighbour, node)[trade]
    buyer = np.where(relation == BUYS_FROM, node, neighbour)[trade]
    pairs = pd.DataFrame({"s": seller, "b": buyer, "w": edges["weight"].to_numpy()[trade]})
    pairs = pairs.drop_duplicates(["s", "b"])  # a pair kept by both of its ends
    shared = inside & (relation == SHARES_IDENTIFIER)
    id_pairs = np.stack([neighbour[shared], node[shared]])
    id_pairs = np.unique(np.concatenate([id_pairs, id_pairs[::-1]], axis=1), axis=1)
    features = nodes.set_index(ids)[artefact.feature_columns]
    x = input_scaler(artefact, features).transform(features)
    data = Data(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(pairs[["s", "b"]].to_numpy(np.int64).T.copy()),
        edge_weight=torch.from_numpy(pairs["w"].to_numpy(np.float32, copy=True)),
        id_edge_index=torch.from_numpy(id_pairs.astype(np.int64)),
        y=torch.full((len(ids),), float("nan")),
        thin=torch.from_numpy(nodes[THIN].to_numpy(bool, copy=True)),
        num_nodes=len(ids),
    )
    return GraphData(data=data, business_ids=ids, as_of=as_of)


def prepare_neighbourhood(
    artefact: Artefact, store: NeighbourhoodStore, business_ids: list[str]
) -> PreparedScores | None:
    """:class:`PreparedScores` over the neighbourhood of the ``business_ids`` the store
    holds, to be picked with ``gnn.scoring.score_prepared``; None when the store was written
    by another model or holds none of them."""
    if store.model_version != artefact.model_version:
        return None
    targets = store.nodes(list(dict.fromkeys(business_ids)))
    if targets.empty:
        return None
    frontier = targets["business_id"].tolist()
    seen, reads = set(frontier), []
    for _ in range(store.hops):  # each hop: what the frontier aggregates
        edges = store.edges(frontier)
        reads.append(edges)
        frontier = sorted(set(edges["neighbour_id"]) - seen)
        seen.update(frontier)
    pairs = store.pairs(targets["business_id"].tolist())
    partners = (set(pairs["seller_id"]) | set(pairs["buyer_id"])) - seen
    rest = store.nodes(sorted(seen - set(targets["business_id"]) | partners))
    nodes = pd.concat([targets, rest], ignore_index=True).sort_values(POSITION)
    nodes = nodes.reset_index(drop=True)
    edges = pd.concat(reads, ignore_index=True) if reads else store.edges([])
    graph = _subgraph(nodes, edges, artefact, store.as_of)
    features = nodes.drop(columns=["business_id", POSITION, KIND, THIN])
    features.index = graph.business_ids
    cache = GraphCache()
    rows = graph.index_of(targets["business_id"].astype(str).tolist())
    # Only the targets are scored (the rest of the neighbourhood is there to be read).
    pd_ = artefact.calibrator(raw_probability(artefact, features, graph, cache, rows))
    scores = artefact.scale.score(pd_)
    kind = pd.Series(nodes[KIND].astype(str).to_numpy(), index=graph.business_ids)
    return PreparedScores(
        artefact, None, store.as_of, features, graph, pd_, scores,
        artefact.grades.grade(scores), kind, cache, _pairs=pairs,
    )  # fmt: skip
