"""Receptive-field plans: run a message-passing model only where the targets' outputs need it.

A ``L``-layer GraphSAGE's output at a target depends on layer ``L - 1`` at the target and its
neighbours, which depend on layer ``L - 2`` one hop further out, and so on. Computing every
layer on every row (the full-batch forward) wastes most of the work when only a few rows are
read out, as when explaining many businesses at once: their neighbourhoods hold thousands of
rows, of which layer ``L`` needs one per target.

:func:`plan_layers` works backwards from the target rows and gives, per layer, the rows that
layer computes and one sparse operator that gathers each of them and its weighted-mean
aggregates per relation from the rows of the layer below (aggregate, then transform). A model
run with the plan (``GraphSAGE.embed(x[plan.input_rows], plan=plan)``) returns exactly the rows the
full forward would give at the targets, at a fraction of the cost.

:func:`plan_blocks` does the same on a private copy of each target's receptive field, so a
backward pass from the outputs keeps every target's gradient its own even where
neighbourhoods overlap: what per-target attributions (Integrated Gradients) need.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor


@dataclass(frozen=True)
class LayerPlan:
    """One layer restricted to the rows it must compute.

    ``keep [M]``: for each row this layer computes, its position among the layer's input rows
    (its root term and residual). ``gather [M * (R + 1), M_in]``: row ``m * (R + 1)`` picks
    input row ``keep[m]``, row ``m * (R + 1) + r`` holds relation ``r``'s normalised weights,
    so ``gather @ h`` viewed as ``[M, (R + 1) * width]`` is ``[h_m, agg_1, ..., agg_R]``.
    ``gather_t`` is its transpose (the backward pass)."""

    keep: Tensor
    gather: Tensor
    gather_t: Tensor

    @property
    def num_rows(self) -> int:
        return int(self.keep.numel())


def _csr(matrix: sp.csr_matrix) -> Tensor:
    """scipy CSR -> torch CSR without a round trip through COO."""
    matrix.sort_indices()
    with warnings.catch_warnings():  # CSR is "beta" in torch; it is the fast CPU path here
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            matrix.shape,
        )


def _scipy(adjacency: Tensor) -> sp.csr_matrix:
    """torch sparse (CSR or COO) -> scipy CSR."""
    shape = tuple(int(s) for s in adjacency.shape)
    if adjacency.layout == torch.sparse_csr:
        parts = (adjacency.values(), adjacency.col_indices(), adjacency.crow_indices())
        return sp.csr_matrix(tuple(t.numpy() for t in parts), shape=shape)
    coo = adjacency.coalesce()
    row, col = coo.indices().numpy()
    return sp.csr_matrix((coo.values().numpy(), (row, col)), shape=shape)


@dataclass(frozen=True)
class ReceptivePlan:
    """Per-layer plans and the graph rows the first layer reads (``input_rows``; sorted, or
    copy by copy for :func:`plan_blocks`): feed the model ``x[input_rows]``; its output rows
    are the targets, in the order given."""

    input_rows: np.ndarray
    layers: list[LayerPlan]
    #: Rows of the graph the plan was made on.
    num_nodes: int = 0
    #: Graph rows of every level: ``level_rows[0]`` is ``input_rows``, ``level_rows[l]`` the
    #: rows layer ``l`` computes (the last: the targets), in the plan's row order.
    level_rows: tuple[np.ndarray, ...] = ()


def _union(matrices: list[sp.csr_matrix]) -> sp.csr_matrix:
    union = matrices[0].copy()
    for matrix in matrices[1:]:
        union = union + matrix
    return union.tocsr()


@dataclass(frozen=True)
class ScipyOperators:
    """A graph's normalised operators as scipy CSR and their one-hop reach ``hop [N, N]``
    (any relation, or the node itself): what every plan on the graph reads, built once for
    many plans (:func:`plan_blocks` runs once per pass of Integrated Gradients)."""

    matrices: list[sp.csr_matrix]
    hop: sp.csr_matrix

    @classmethod
    def of(cls, adjacencies: list[Tensor] | ScipyOperators) -> ScipyOperators:
        if isinstance(adjacencies, ScipyOperators):
            return adjacencies
        matrices = [_scipy(a) for a in adjacencies]
        num_nodes = int(matrices[0].shape[0])
        hop = (_union(matrices) + sp.identity(num_nodes, format="csr")) != 0
        return cls(matrices, hop.tocsr())

    @property
    def num_nodes(self) -> int:
        return int(self.matrices[0].shape[0])


def plan_layers(
    adjacencies: list[Tensor] | ScipyOperators, targets: np.ndarray, num_layers: int
) -> ReceptivePlan:
    """The plan whose last layer computes exactly ``targets`` (graph rows, in that order) and
    every earlier layer the rows within reach of them.

    ``adjacencies``: the model's ``R`` normalised ``[N, N]`` operators (row v aggregates over
    its in-neighbours), as :func:`gnn.conv.relation_adjacency` builds them, or
    :class:`ScipyOperators` of them."""
    operators = ScipyOperators.of(adjacencies)
    matrices = operators.matrices
    rows = [np.asarray(targets, dtype=np.int64)]
    for _ in range(num_layers):
        below = rows[0]
        reach = operators.hop[np.unique(below)]
        rows.insert(0, np.union1d(below, reach.indices).astype(np.int64))
    slots = len(matrices) + 1
    plans = []
    for layer in range(1, num_layers + 1):
        inputs, outputs = rows[layer - 1], rows[layer]
        keep = np.searchsorted(inputs, outputs)
        blocks: list[sp.csr_matrix] = [
            sp.csr_matrix(
                (np.ones(len(outputs), dtype=np.float32), (np.arange(len(outputs)), keep)),
                shape=(len(outputs), len(inputs)),
            )
        ]
        blocks += [m[outputs][:, inputs] for m in matrices]
        # Interleave the slots: row m * slots + s of the gather is block s's row m.
        stacked = sp.vstack(blocks, format="csr")
        order = np.arange(len(outputs) * slots).reshape(slots, len(outputs)).T.ravel()
        gather = stacked[order]
        plans.append(LayerPlan(torch.from_numpy(keep), _csr(gather), _csr(gather.T.tocsr())))
    return ReceptivePlan(rows[0], plans, operators.num_nodes, tuple(rows))


def _keys(owner: np.ndarray, node: np.ndarray, num_nodes: int) -> np.ndarray:
    """One sortable int64 per (copy, graph row)."""
    return owner.astype(np.int64) * num_nodes + node.astype(np.int64)


def plan_blocks(
    adjacencies: list[Tensor] | ScipyOperators, targets: np.ndarray, num_layers: int
) -> tuple[ReceptivePlan, np.ndarray]:
    """A plan on every target's *own copy* of its receptive field, side by side: ``(plan,
    owner)``, where ``plan.input_rows [K]`` are the graph rows of the copied rows and
    ``owner [K]`` says whose copy each is (an index into ``targets``). The output rows are
    the targets in the order given.

    The copies never share a row, so a backward pass from the outputs gives each target the
    gradient of its own output only, even where neighbourhoods overlap (what per-target
    attributions need). Each copied row aggregates with the whole graph's operators, which
    for every row a layer computes read only rows inside the same copy, so the outputs equal
    the full forward's. Built in one pass of sparse products, without building the copied
    graph; the rows of a layer are sorted by (owner, graph row)."""
    operators = ScipyOperators.of(adjacencies)
    matrices, hop, num_nodes = operators.matrices, operators.hop, operators.num_nodes
    n_targets = len(targets)
    rows = [(np.arange(n_targets, dtype=np.int64), np.asarray(targets, dtype=np.int64))]
    for _ in range(num_layers):
        owner, node = rows[0]
        marks = sp.csr_matrix(
            (np.ones(len(node), dtype=np.float32), (owner, node)), shape=(n_targets, num_nodes)
        )
        below = (marks @ hop).tocsr()
        below.sort_indices()
        rows.insert(0, (np.repeat(np.arange(n_targets), np.diff(below.indptr)), below.indices))
    slots = len(matrices) + 1
    layers = []
    for layer in range(1, num_layers + 1):
        inputs = _keys(*rows[layer - 1], num_nodes)
        owner, node = rows[layer]
        keep = np.searchsorted(inputs, _keys(owner, node, num_nodes))
        parts_row, parts_col, parts_value = (
            [np.arange(len(node)) * slots],
            [keep],
            [np.ones(len(node), dtype=np.float32)],
        )
        for slot, matrix in enumerate(matrices, start=1):
            picked = matrix[node]
            row = np.repeat(np.arange(len(node)), np.diff(picked.indptr))
            parts_row.append(row * slots + slot)
            parts_col.append(np.searchsorted(inputs, _keys(owner[row], picked.indices, num_nodes)))
            parts_value.append(picked.data.astype(np.float32))
        gather = sp.csr_matrix(
            (np.concatenate(parts_value), (np.concatenate(parts_row), np.concatenate(parts_col))),
            shape=(len(node) * slots, len(inputs)),
        )
        layers.append(LayerPlan(torch.from_numpy(keep), _csr(gather), _csr(gather.T.tocsr())))
    input_owner, input_node = rows[0]
    level_rows = tuple(node for _, node in rows)
    return ReceptivePlan(input_node, layers, num_nodes, level_rows), input_owner
