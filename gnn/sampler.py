"""Neighbour sampling of our own behind PyG's loader interface (no pyg-lib / torch-sparse).

:class:`UniformNeighborSampler` is a ``torch_geometric.sampler.BaseSampler``: given seed nodes
it draws up to ``fanout[l]`` incoming messages per node at hop ``l`` (uniformly, with
replacement, duplicates dropped) over all relations at once, so PyG's ``NodeLoader`` can slice
the sub-graph. Relations travel as ``edge_type`` on one typed edge list (:func:`typed_edges`);
the convolution re-normalises the weights inside the sample, so a sampled weighted mean
estimates the full one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import NodeLoader
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

from gnn.conv import trade_relations, weighted_mean_adjacency
from gnn.data import GraphData
from gnn.model import GraphSAGE, SAGEConfig


def typed_edges(graph: GraphData, use_identifiers: bool, max_neighbours: int | None = None) -> Data:
    """All relations as one edge list (source -> target of the message) with ``edge_type``
    0 = buys_from, 1 = sells_to, 2 = shares_identifier, and ``edge_weight``. Each trade
    relation keeps only the in-edges the model aggregates (``max_neighbours``, the heaviest;
    :func:`gnn.conv.trade_relations`), so samples are drawn from the model's neighbourhood."""
    data = graph.data
    relations = trade_relations(data.edge_index, data.edge_weight, max_neighbours)
    parts, weights = [m for m, _ in relations], [w for _, w in relations]
    if use_identifiers:
        parts.append(data.id_edge_index)
        weights.append(torch.ones(data.id_edge_index.shape[1]))
    types = torch.cat([torch.full((p.shape[1],), i, dtype=torch.long) for i, p in enumerate(parts)])
    return Data(
        x=data.x,
        y=data.y,
        edge_index=torch.cat(parts, dim=1),
        edge_weight=torch.cat(weights),
        edge_type=types,
        num_nodes=data.num_nodes,
    )


def typed_adjacency(batch: Data, num_relations: int) -> list[Tensor]:
    """Per-relation normalised adjacencies of a (sampled) typed graph."""
    return [
        weighted_mean_adjacency(
            batch.edge_index[:, batch.edge_type == r],
            batch.edge_weight[batch.edge_type == r],
            batch.num_nodes,
        )
        for r in range(num_relations)
    ]


class UniformNeighborSampler(BaseSampler):  # type: ignore[misc]  # PyG ships no types
    """Multi-hop uniform in-neighbour sampler over a typed edge list (CSR by target)."""

    def __init__(self, data: Data, fanout: tuple[int, ...], seed: int = 0) -> None:
        target = data.edge_index[1].numpy()
        order = np.argsort(target, kind="stable")
        self.edge_ids = order
        self.sources = data.edge_index[0].numpy()[order]
        self.rowptr = np.zeros(data.num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(target, minlength=data.num_nodes), out=self.rowptr[1:])
        self.fanout = fanout
        self.rng = np.random.default_rng(seed)

    def _draw(self, nodes: np.ndarray, k: int) -> np.ndarray:
        """Positions (in CSR order) of up to ``k`` sampled in-edges of each of ``nodes``."""
        start, degree = self.rowptr[nodes], self.rowptr[nodes + 1] - self.rowptr[nodes]
        has = degree > 0
        start, degree = start[has], degree[has]
        offsets = (self.rng.random((len(start), k)) * degree[:, None]).astype(np.int64)
        return np.unique((start[:, None] + offsets).ravel())

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs: object) -> SamplerOutput:
        seeds = index.node.numpy()
        nodes = list(dict.fromkeys(seeds.tolist()))
        known = set(nodes)
        frontier = np.asarray(nodes, dtype=np.int64)
        picked: list[np.ndarray] = []
        for k in self.fanout:
            positions = self._draw(frontier, k)
            picked.append(positions)
            fresh = [s for s in dict.fromkeys(self.sources[positions].tolist()) if s not in known]
            known.update(fresh)
            nodes.extend(fresh)
            frontier = np.asarray(fresh, dtype=np.int64)
        positions = np.unique(np.concatenate(picked)) if picked else np.zeros(0, np.int64)
        node = np.asarray(nodes, dtype=np.int64)
        local = np.full(int(self.rowptr.shape[0]) - 1, -1, dtype=np.int64)
        local[node] = np.arange(len(node))
        targets = np.searchsorted(self.rowptr, positions, side="right") - 1
        return SamplerOutput(
            node=torch.from_numpy(node),
            row=torch.from_numpy(local[self.sources[positions]]),
            col=torch.from_numpy(local[targets]),
            edge=torch.from_numpy(self.edge_ids[positions]),
            batch=None,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index: object, **kwargs: object) -> SamplerOutput:
        raise NotImplementedError("link-level sampling is not needed: we classify nodes")


def node_loader(
    graph: GraphData,
    input_nodes: np.ndarray,
    use_identifiers: bool,
    fanout: tuple[int, ...],
    batch_size: int,
    seed: int = 0,
    max_neighbours: int | None = None,
) -> NodeLoader:
    """PyG ``NodeLoader`` over our sampler; each batch's first ``batch_size`` nodes are seeds."""
    data = typed_edges(graph, use_identifiers, max_neighbours)
    sampler = UniformNeighborSampler(data, fanout, seed)
    return NodeLoader(
        data,
        node_sampler=sampler,
        input_nodes=torch.as_tensor(input_nodes, dtype=torch.long),
        batch_size=batch_size,
        shuffle=True,
    )


def sampled_batches(
    model: GraphSAGE,
    optimiser: torch.optim.Optimizer,
    graph: GraphData,
    train_idx: np.ndarray,
    sage_config: SAGEConfig,
    train_config: object,
    pos_weight: Tensor,
    device: torch.device,
) -> float:
    """One epoch of mini-batch training; returns the mean batch loss."""
    loader = node_loader(
        graph,
        train_idx,
        sage_config.use_identifiers,
        train_config.fanout,  # type: ignore[attr-defined]
        train_config.batch_size,  # type: ignore[attr-defined]
        seed=int(torch.randint(0, 2**31 - 1, (1,))),
        max_neighbours=sage_config.max_neighbours,
    )
    losses = []
    for batch in loader:
        optimiser.zero_grad()
        adjacencies = [a.to(device) for a in typed_adjacency(batch, sage_config.num_relations)]
        logits = model(batch.x.to(device), adjacencies)[: batch.batch_size]
        loss = F.binary_cross_entropy_with_logits(
            logits, batch.y[: batch.batch_size].to(device), pos_weight=pos_weight
        )
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else 0.0
