"""The fused relation operator gives the per-relation layer's output and gradients."""

from __future__ import annotations

import pytest
import torch

from gnn.conv import (
    DirectedSAGEConv,
    RelationAdjacencies,
    fused_adjacency,
    relation_adjacency,
    sparse_product,
)
from gnn.model import GraphSAGE, SAGEConfig


def _graph(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n, (2, 150), generator=generator)
    edges = edges[:, edges[0] != edges[1]]
    weights = torch.rand(edges.shape[1], generator=generator) + 0.1
    shared = torch.randint(0, n, (2, 20), generator=generator)
    shared = shared[:, shared[0] != shared[1]]
    return edges, weights, torch.cat([shared, shared.flip(0)], dim=1)


@pytest.mark.parametrize("use_identifiers", [True, False])
def test_fused_layer_matches_the_per_relation_layer(use_identifiers: bool) -> None:
    edges, weights, shared = _graph()
    adjacencies = relation_adjacency(edges, weights, 40, shared, use_identifiers)
    assert isinstance(adjacencies, RelationAdjacencies)
    conv = DirectedSAGEConv(8, 5, num_relations=len(adjacencies))
    x = torch.randn(40, 8, requires_grad=True)
    fused, generic = conv(x, adjacencies), conv(x, list(adjacencies))
    assert torch.allclose(fused, generic, atol=1e-5)
    params = [x, conv.lin.weight, conv.lin.bias]
    grads_fused = torch.autograd.grad((fused**2).sum(), params)
    grads_generic = torch.autograd.grad((generic**2).sum(), params)
    for a, b in zip(grads_fused, grads_generic, strict=True):
        assert torch.allclose(a, b, atol=1e-4)


def test_fused_operator_holds_root_and_relations_in_their_slots() -> None:
    edge_index = torch.tensor([[0], [1]])  # 0 sells to 1
    adjacencies = relation_adjacency(edge_index, None, 2)
    forward, backward = fused_adjacency(list(adjacencies))
    dense = forward.to_dense()
    assert dense.shape == (2, 6)  # 2 nodes x (root + 2 relations)
    # node 1 buys from 0: slot 1 of node 0; node 0 sells to 1: slot 2 of node 1; roots at 0, 3.
    expected = torch.tensor([[1, 0, 0, 0, 0, 1.0], [0, 1, 0, 1, 0, 0.0]])
    assert torch.equal(dense, expected)
    assert torch.equal(backward.to_dense(), expected.T)


def test_model_trains_the_same_on_either_path() -> None:
    edges, weights, shared = _graph(seed=1)
    adjacencies = relation_adjacency(edges, weights, 40, shared, use_identifiers=True)
    x, y = torch.randn(40, 6), (torch.rand(40) > 0.5).float()
    losses = {}
    for name, graph_input in (("fused", adjacencies), ("generic", list(adjacencies))):
        torch.manual_seed(3)
        model = GraphSAGE(6, SAGEConfig(hidden=8, dropout=0.0))
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(5):
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, graph_input), y)
            loss.backward()
            optimiser.step()
        losses[name] = loss.item()
    assert losses["fused"] == pytest.approx(losses["generic"], rel=1e-4)


def test_to_device_keeps_the_fused_operator() -> None:
    edges, weights, shared = _graph()
    moved = relation_adjacency(edges, weights, 40, shared, True).to("cpu")
    assert isinstance(moved, RelationAdjacencies) and len(moved) == 3
    assert moved.fused.shape == (40, 160) and moved.fused_t.shape == (160, 40)


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_sparse_product_equals_the_sparse_matmul_to_the_bit(layout: str) -> None:
    generator = torch.Generator().manual_seed(3)
    dense = torch.rand(30, 12, generator=generator) * (
        torch.rand(30, 12, generator=generator) < 0.1
    )
    dense[7] = 0.0  # a row with no entries: its output row must be zeros, not leftovers
    a = dense.to_sparse_csr() if layout == "csr" else dense.to_sparse()
    z = torch.randn(12, 9, generator=generator)
    for _ in range(3):  # fresh outputs each call: nothing of an earlier product shows through
        got = sparse_product(a, z)
        assert got.shape == (30, 9)
        assert torch.equal(got, torch.sparse.mm(a, z))
        assert torch.equal(got[7], torch.zeros(9))
