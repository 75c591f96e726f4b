"""A direction-aware, edge-weighted GraphSAGE layer on PyG's ``MessagePassing``.

PyG's ``SAGEConv`` takes no edge weights and mixes both trade directions into one mean. Here
each relation (``buys_from``, ``sells_to``, optionally ``shares_identifier``) gets its own
weighted mean and its own weight matrix, plus a root weight::

    h_v' = W_root h_v + sum_r W_r * (sum_{u in N_r(v)} w_uv h_u / sum_{u in N_r(v)} w_uv)

With GMV weights, ``w_uv / sum w`` is u's share of v's trade in that direction. With
``max_neighbours = K`` (``SAGEConfig``'s default) each node averages over its K largest
counterparties per direction only, so a hub's neighbourhood, and what scoring one business
reads, stay bounded.
The normalised adjacency of every relation is built once per graph (:func:`relation_adjacency`)
as a sparse CSR matrix.

Fast path: :func:`relation_adjacency` returns :class:`RelationAdjacencies`, a list of those
matrices that also holds one *fused* operator ``A [N, N*(R+1)]`` (identity for the root plus
every relation, with the column of node u in slot r at ``u*(R+1) + r``) and its transpose, both
built once per graph. A layer then transforms first and aggregates once::

    Z = h @ [W_root | W_1 | ... | W_R]^T    # [N, (R+1)*out] = [N*(R+1), out] as a view
    h' = A @ Z + b                          # one sparse-dense product, no concatenation

and the backward pass uses the stored transpose (``A^T @ grad``) instead of transposing a
sparse matrix every step. A plain list of per-relation matrices still works (the generic path).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter, spmm

from gnn.receptive import LayerPlan


def top_k_in_edges(target: Tensor, weight: Tensor, source: Tensor, k: int) -> Tensor:
    """Boolean mask ``[E]`` keeping each target's ``k`` heaviest in-edges (one edge per
    pair of nodes, as :func:`gnn.data.build_graph` makes them).

    Ties go to the lower source position, so any sub-graph that keeps the nodes' relative
    order and holds a node's kept in-edges keeps the same ones (what neighbourhood scoring
    relies on: :mod:`gnn.neighbourhood`)."""
    if source.numel() == 0:
        return torch.zeros(0, dtype=torch.bool, device=target.device)
    t, w, s = (v.detach().cpu().numpy() for v in (target, weight, source))
    order = np.lexsort((s, -w.astype(np.float64), t))
    sorted_target = t[order]
    starts = np.flatnonzero(np.r_[True, sorted_target[1:] != sorted_target[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < k]] = True
    return torch.from_numpy(keep).to(target.device)


def trade_relations(
    edge_index: Tensor, edge_weight: Tensor | None, max_neighbours: int | None = None
) -> list[tuple[Tensor, Tensor]]:
    """The two trade relations as ``(messages [2, E_r] source -> target, weights [E_r])``:
    ``buys_from`` (seller -> buyer) then ``sells_to`` (buyer -> seller), from seller -> buyer
    ``edge_index``. With ``max_neighbours`` each target keeps only that many heaviest
    in-edges (its largest trade shares; :func:`top_k_in_edges`): the model's neighbourhood."""
    weight = (
        torch.ones(edge_index.shape[1], dtype=torch.float32, device=edge_index.device)
        if edge_weight is None
        else edge_weight.to(torch.float32)
    )
    relations = []
    for messages in (edge_index, edge_index.flip(0)):
        if max_neighbours is None:
            relations.append((messages, weight))
            continue
        keep = top_k_in_edges(messages[1], weight, messages[0], max_neighbours)
        relations.append((messages[:, keep], weight[keep]))
    return relations


def weighted_mean_adjacency(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
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


def _to_csr(indices: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(indices, values, shape, check_invariants=False)
        return coo.coalesce().to_sparse_csr()


def fused_adjacency(adjacencies: list[Tensor]) -> tuple[Tensor, Tensor]:
    """``(A [N, N*(R+1)], A^T)`` as CSR: ``A[v, v*(R+1)] = 1`` (root) and
    ``A[v, u*(R+1) + r] = adjacencies[r-1][v, u]`` for relation slots ``r = 1..R``."""
    num_nodes = int(adjacencies[0].shape[0])
    slots = len(adjacencies) + 1
    device = adjacencies[0].device
    nodes = torch.arange(num_nodes, device=device)
    rows, cols, values = [nodes], [nodes * slots], [torch.ones(num_nodes, device=device)]
    for slot, adjacency in enumerate(adjacencies, start=1):
        coo = adjacency.to_sparse_coo().coalesce()  # type: ignore[no-untyped-call]
        target, source = coo.indices()
        rows.append(target)
        cols.append(source * slots + slot)
        values.append(coo.values().to(torch.float32))
    row, col, value = torch.cat(rows), torch.cat(cols), torch.cat(values)
    forward = _to_csr(torch.stack([row, col]), value, (num_nodes, num_nodes * slots))
    backward = _to_csr(torch.stack([col, row]), value, (num_nodes * slots, num_nodes))
    return forward, backward


class RelationAdjacencies(list[Tensor]):
    """Per-relation normalised CSR adjacencies (a list, in relation order) plus the fused
    operator and its transpose (:func:`fused_adjacency`), built once per graph."""

    def __init__(
        self, adjacencies: list[Tensor], fused: tuple[Tensor, Tensor] | None = None
    ) -> None:
        super().__init__(adjacencies)
        self.fused, self.fused_t = fused if fused is not None else fused_adjacency(adjacencies)

    def to(self, device: torch.device | str) -> RelationAdjacencies:
        """The same operators on ``device``."""
        return RelationAdjacencies(
            [adjacency.to(device) for adjacency in self],
            (self.fused.to(device), self.fused_t.to(device)),
        )


def relation_operators(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    id_edge_index: Tensor | None = None,
    use_identifiers: bool = False,
    max_neighbours: int | None = None,
) -> list[Tensor]:
    """Normalised adjacencies in relation order: ``buys_from`` (aggregate sellers),
    ``sells_to`` (aggregate buyers) and, when asked, ``shares_identifier`` (unweighted).
    ``max_neighbours`` caps the trade relations to each node's heaviest counterparties
    (identifier groups are bounded by the hub threshold already)."""
    adjacencies = [
        weighted_mean_adjacency(messages, weight, num_nodes)
        for messages, weight in trade_relations(edge_index, edge_weight, max_neighbours)
    ]
    if use_identifiers:
        if id_edge_index is None:
            id_edge_index = torch.zeros((2, 0), dtype=torch.long, device=edge_index.device)
        adjacencies.append(weighted_mean_adjacency(id_edge_index, None, num_nodes))
    return adjacencies


def relation_adjacency(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    num_nodes: int,
    id_edge_index: Tensor | None = None,
    use_identifiers: bool = False,
    max_neighbours: int | None = None,
) -> RelationAdjacencies:
    """:func:`relation_operators` with the fused operator a full forward pass uses."""
    return RelationAdjacencies(
        relation_operators(
            edge_index, edge_weight, num_nodes, id_edge_index, use_identifiers, max_neighbours
        )
    )


def sparse_product(a: Tensor, z: Tensor) -> Tensor:
    """``a @ z`` for a sparse ``a [M, N]`` and a dense ``z [N, D]``: ``[M, D]``, written into
    a fresh output that is never zero-filled. ``torch.sparse.mm`` fills its output and copies
    the result, which made it 2.6 times as slow for the reasons' input level (about 15,000
    rows of 192 values, 1.2 entries a row); the values are the same to the bit."""
    out = torch.empty((a.shape[0], z.shape[1]), dtype=z.dtype, device=z.device)
    return torch.addmm(out, a, z, beta=0, out=out)


class _FusedAggregate(torch.autograd.Function):
    """``A @ z`` with the gradient ``A^T @ grad`` from a stored transpose (no per-step
    sparse transposition)."""

    @staticmethod
    def forward(ctx: Any, z: Tensor, fused: Tensor, fused_t: Tensor) -> Tensor:
        ctx.fused_t = fused_t
        return sparse_product(fused, z)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return sparse_product(ctx.fused_t, grad.contiguous()), None, None


class DirectedSAGEConv(MessagePassing):  # type: ignore[misc]  # PyG ships no types
    """GraphSAGE layer with one weighted-mean aggregation and weight matrix per relation.

    ``forward(x [N, in], adjacencies: list of R sparse [N, N]) -> [N, out]``; a
    :class:`RelationAdjacencies` takes the fused path, a :class:`~gnn.receptive.LayerPlan`
    computes only its rows (``[M, out]``).
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

    def forward(self, x: Tensor, adjacencies: list[Tensor] | LayerPlan) -> Tensor:
        if isinstance(adjacencies, LayerPlan):
            return self.planned(x, adjacencies)[0]
        if len(adjacencies) != self.num_relations:
            raise ValueError(
                f"expected {self.num_relations} adjacencies, got {len(adjacencies)}: build them "
                "with relation_adjacency(..., use_identifiers=...) matching the model"
            )
        if isinstance(adjacencies, RelationAdjacencies):
            return self._fused_forward(x, adjacencies)
        aggregated = [self.propagate(adjacency, x=x) for adjacency in adjacencies]
        return self.lin(torch.cat([x, *aggregated], dim=-1))

    def _fused_forward(self, x: Tensor, adjacencies: RelationAdjacencies) -> Tensor:
        """Transform then aggregate once (module docstring); equal to the generic path."""
        slots = self.num_relations + 1
        # lin.weight is [out, slots*in] with block r = W_r; stack the blocks as [in, slots*out].
        stacked = (
            self.lin.weight.view(self.out_channels, slots, self.in_channels)
            .permute(2, 1, 0)
            .reshape(self.in_channels, slots * self.out_channels)
        )
        z = (x @ stacked).view(-1, self.out_channels)  # row v*slots + r = x_v W_r^T
        out = _FusedAggregate.apply(z, adjacencies.fused, adjacencies.fused_t)
        return out + self.lin.bias

    def planned(self, x: Tensor, plan: LayerPlan) -> tuple[Tensor, Tensor]:
        """Only the plan's rows (:mod:`gnn.receptive`): gather each row and its aggregates from
        the input rows, then transform (fewer output rows than input rows, so this order).
        ``x [M_in, *batch, in]``: dimensions between the first and last are independent
        evaluations on the same rows (Integrated Gradients' steps), gathered in one product.
        Returns ``(out [M, *batch, out], x[plan.keep])``: the kept input rows are the gather's
        root slot, so a caller that needs them takes them here instead of indexing ``x``."""
        batch = x.shape[1:-1]
        gathered = _FusedAggregate.apply(x.reshape(x.shape[0], -1), plan.gather, plan.gather_t)
        slots = self.num_relations + 1
        # [M * slots, batch * in] -> [M, *batch, slots, in]
        gathered = gathered.view(plan.num_rows, slots, *batch, -1).movedim(1, -2)
        root = gathered[..., 0, :]
        return self.lin(gathered.reshape(plan.num_rows, *batch, -1)), root

    def message(self, x_j: Tensor) -> Tensor:  # pragma: no cover - sparse path only
        return x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x, reduce="sum")

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"relations={self.num_relations})"
        )
