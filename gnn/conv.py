"""A direction-aware, edge-weighted GraphSAGE layer on PyG's ``MessagePassing``.

PyG's ``SAGEConv`` takes no edge weights and mixes both trade directions into one mean. Here
each relation (``buys_from``, ``sells_to``, optionally ``shares_identifier``) gets its own
weighted mean and its own weight matrix, plus a root weight::

    h_v' = W_root h_v + sum_r W_r * (sum_{u in N_r(v)} w_uv h_u / sum_{u in N_r(v)} w_uv)

With GMV weights, ``w_uv / sum w`` is u's share of v's trade in that direction.
The normalised adjacency of every relation is built once per graph (:func:`relation_adjacency`)
as a sparse CSR matrix, so each layer is one sparse-dense product per relation.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter, spmm


def weighted_mean_adjacency(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int
) -> Tensor:
    """Sparse CSR ``[N, N]`` with row v holding v's in-neighbours (messages flow
    ``edge_index[0] -> edge_index[1]``) weighted ``w_uv / sum_u w_uv``; empty rows stay zero."""
    source, target = edge_index
    weight = (
        torch.ones(source.numel(), dtype=torch.float32, device=edge_index.device)
        if edge_weight is None
        else edge_weight.to(torch.float32)
    )
    total = scatter(weight, target, dim=0, dim_size=num_nodes, reduce="sum")
    normalised = weight / total[target].clamp_min(1e-12)
    with warnings.catch_warnings():  # CSR is "beta" in torch; it is the fast CPU path here
        warnings.simplefilter("ignore", UserWarning)
        adjacency = torch.sparse_coo_tensor(
            torch.stack([target, source]),
            normalised,
            (num_nodes, num_nodes),
            check_invariants=False,
        ).coalesce()
        return adjacency.to_sparse_csr()


def relation_adjacency(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    id_edge_index: Tensor | None = None,
    use_identifiers: bool = False,
) -> list[Tensor]:
    """Normalised adjacencies in relation order: ``buys_from`` (aggregate sellers),
    ``sells_to`` (aggregate buyers) and, when asked, ``shares_identifier`` (unweighted)."""
    adjacencies = [
        weighted_mean_adjacency(edge_index, edge_weight, num_nodes),
        weighted_mean_adjacency(edge_index.flip(0), edge_weight, num_nodes),
    ]
    if use_identifiers:
        if id_edge_index is None:
            id_edge_index = torch.zeros((2, 0), dtype=torch.long, device=edge_index.device)
        adjacencies.append(weighted_mean_adjacency(id_edge_index, None, num_nodes))
    return adjacencies


class DirectedSAGEConv(MessagePassing):
    """GraphSAGE layer with one weighted-mean aggregation and weight matrix per relation.

    ``forward(x [N, in], adjacencies: list of R sparse [N, N]) -> [N, out]``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int = 2) -> None:
        super().__init__(aggr="sum")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        # One matrix over [h_v, agg_1, ..., agg_R]: W_root and every W_r side by side, so a
        # layer is one dense product instead of R + 1 (fewer, larger ops are faster on CPU).
        self.lin = nn.Linear((num_relations + 1) * in_channels, out_channels, bias=True)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, x: Tensor, adjacencies: list[Tensor]) -> Tensor:
        if len(adjacencies) != self.num_relations:
            raise ValueError(
                f"expected {self.num_relations} adjacencies, got {len(adjacencies)}: build them "
                "with relation_adjacency(..., use_identifiers=...) matching the model"
            )
        aggregated = [self.propagate(adjacency, x=x) for adjacency in adjacencies]
        return self.lin(torch.cat([x, *aggregated], dim=-1))

    def message(self, x_j: Tensor) -> Tensor:  # pragma: no cover - sparse path only
        return x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x, reduce="sum")

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"relations={self.num_relations})"
        )
