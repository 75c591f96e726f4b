"""A receptive-field plan computes the targets' rows exactly as the full forward does, gradients
included, and Integrated Gradients on many targets' neighbourhoods at once equal each target's
own Integrated Gradients on the whole graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Data

from gnn.conv import relation_adjacency, relation_operators, top_k_in_edges
from gnn.data import GraphData
from gnn.model import GraphSAGE, SageBagModel, SAGEConfig
from gnn.reasons import NodeAttributions, gnn_readout, integrated_gradients, path_points
from gnn.receptive import plan_blocks, plan_layers

N, F = 60, 5


def _graph(seed: int = 0) -> GraphData:
    """A random trade graph with a hub (node 0 trades with a third of the graph), isolated
    nodes (55-59) and identifier links."""
    g = torch.Generator().manual_seed(seed)
    src, dst = torch.randint(0, 50, (2, 120), generator=g)
    hub = torch.arange(1, 20)
    src, dst = torch.cat([src, torch.zeros(19, dtype=torch.long)]), torch.cat([dst, hub])
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])
    shared = torch.tensor([[3, 4, 7, 30], [4, 3, 30, 7]])
    data = Data(
        x=torch.randn(N, F, generator=g),
        edge_index=edge_index,
        edge_weight=torch.rand(edge_index.shape[1], generator=g) + 0.1,
        id_edge_index=shared,
        num_nodes=N,
    )
    ids = pd.Index([f"B{i:03d}" for i in range(N)])
    return GraphData(data, ids, pd.Timestamp("2024-01-01"))


def _model(num_layers: int, use_identifiers: bool, seed: int = 0, **config: object) -> GraphSAGE:
    torch.manual_seed(seed)
    sage = SAGEConfig(hidden=8, num_layers=num_layers, use_identifiers=use_identifiers, **config)  # type: ignore[arg-type]
    return GraphSAGE(F, sage).eval()


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("use_identifiers", "cap"), [(False, None), (True, None), (True, 4)])
def test_planned_forward_equals_the_full_forward_at_the_targets(
    num_layers: int, use_identifiers: bool, cap: int | None
) -> None:
    data = _graph().data
    model = _model(num_layers, use_identifiers)
    args = (data.edge_index, data.edge_weight, N, data.id_edge_index, use_identifiers, cap)
    targets = np.array([0, 17, 3, 57, 17])  # a hub, repeats, an isolated node, out of order
    plan = plan_layers(relation_operators(*args), targets, num_layers)
    with torch.no_grad():
        full = model.embed(data.x, relation_adjacency(*args))[torch.from_numpy(targets)]
        planned = model.embed(data.x[torch.from_numpy(plan.input_rows)], plan)
    assert planned.shape == full.shape
    assert torch.allclose(planned, full, atol=1e-5)
    assert len(plan.input_rows) < N  # it left out rows the targets cannot reach


def test_block_plan_gives_each_target_its_own_copy_and_the_full_forward_per_step() -> None:
    """Overlapping neighbourhoods (a hub, a repeated target): every target's rows are its
    own, and a batch of scaled inputs ``[K, steps, F]`` gives the full forward at each scale."""
    data = _graph(5).data
    model = _model(2, True, seed=2)
    args = (data.edge_index, data.edge_weight, N, data.id_edge_index, True, 4)
    targets = np.array([0, 17, 3, 57, 17])
    plan, owner = plan_blocks(relation_operators(*args), targets, 2)
    assert np.all(np.diff(owner) >= 0)  # copies laid out target by target
    for i, target in enumerate(targets):
        rows = plan.input_rows[owner == i]
        assert target in rows and len(np.unique(rows)) == len(rows)
    scales = torch.tensor([0.25, 1.0])
    x_rows = data.x[torch.from_numpy(plan.input_rows)]
    with torch.no_grad():
        planned = model(scales[None, :, None] * x_rows[:, None, :], plan)  # [T, steps]
        adjacency = relation_adjacency(*args)
        for s, scale in enumerate(scales):
            full = model(data.x * scale, adjacency)[torch.from_numpy(targets)]
            assert torch.allclose(planned[:, s], full, atol=1e-5)


@pytest.mark.parametrize(
    ("use_identifiers", "cap", "bag", "layout"),
    [
        (False, None, False, {}),
        (True, None, False, {}),
        (True, 3, False, {}),
        (True, 3, True, {}),
        (True, 3, False, {"jumping_knowledge": "last", "residual": False}),
        (True, None, True, {"num_layers": 3}),
    ],
)
def test_batched_attributions_equal_each_targets_own_on_the_whole_graph(
    use_identifiers: bool, cap: int | None, bag: bool, layout: dict[str, object]
) -> None:
    """With a neighbourhood cap too: each target's block is its capped receptive field, and
    the block's operators keep the same counterparties the whole graph's do. A bag's
    members are attributed each through its own input layer; the hand-written backward
    pass holds for every layout of the layers (jumping knowledge, residuals, depth)."""
    graph = _graph(2)
    data = graph.data
    layers = int(layout.pop("num_layers", 2))  # type: ignore[call-overload]
    single = _model(layers, use_identifiers, 3, **layout)
    model: GraphSAGE | SageBagModel = single
    if bag:
        model = SageBagModel([single, _model(layers, use_identifiers, 4, **layout)]).eval()
    targets = np.array([0, 9, 30, 58, 12])
    steps = 3
    with torch.enable_grad():
        passes = integrated_gradients(
            model, graph, targets, gnn_readout(model), use_identifiers, steps=steps, batch=2,
            max_neighbours=cap,
        )  # fmt: skip
        got = NodeAttributions.concatenate(passes, F)
    adjs = relation_adjacency(
        data.edge_index, data.edge_weight, N, data.id_edge_index, use_identifiers, cap
    )
    for i, target in enumerate(targets):
        path_grad = torch.zeros(N, F)
        for alpha, weight in zip(*path_points(steps), strict=True):
            x = (data.x * alpha).requires_grad_(True)
            model(x, adjs)[target].backward()
            path_grad += x.grad * weight
        expected = (data.x * path_grad).numpy()
        rows = got.target == i
        attributed = np.zeros((N, F), dtype=np.float64)
        attributed[got.node[rows]] = got.values[rows]
        np.testing.assert_allclose(attributed, expected, atol=1e-5)


def test_cap_keeps_each_nodes_heaviest_counterparties_and_breaks_ties_by_position() -> None:
    target = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    source = torch.tensor([5, 3, 4, 6, 7, 8, 9])
    weight = torch.tensor([1.0, 2.0, 1.0, 0.5, 3.0, 3.0, 1.0])
    keep = top_k_in_edges(target, weight, source, 2)
    # node 0: the heaviest (3), then a tie at 1.0 between 5 and 4 goes to the lower position
    assert keep.tolist() == [False, True, True, False, True, True, True]


def test_capped_mean_is_over_the_kept_counterparties_only() -> None:
    data = _graph(4).data
    # one edge per trading pair, as gnn.data.build_graph makes them
    coo = torch.sparse_coo_tensor(data.edge_index, data.edge_weight, (N, N)).coalesce()
    edges, weights = coo.indices(), coo.values()
    capped = relation_operators(edges, weights, N, max_neighbours=2)
    full = relation_operators(edges, weights, N)
    for operator, uncapped in zip(capped, full, strict=True):
        dense, dense_full = operator.to_dense(), uncapped.to_dense()
        degree = (dense > 0).sum(dim=1)
        assert int(degree.max()) == 2 < int((dense_full > 0).sum(dim=1).max())
        has = degree > 0
        assert torch.allclose(dense[has].sum(dim=1), torch.ones(int(has.sum())))
        # the kept neighbours are the row's heaviest under the uncapped weights
        for row in torch.nonzero(degree == 2).flatten().tolist():
            kept = dense_full[row][dense[row] > 0]
            assert float(kept.min()) >= float(dense_full[row].topk(2).values.min()) - 1e-7


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_path_points_integrate_polynomials_of_degree_twice_the_points_less_one(steps: int) -> None:
    alphas, weights = path_points(steps)
    assert torch.all((alphas > 0) & (alphas < 1))
    for degree in range(2 * steps):
        integral = float((weights.double() * alphas.double() ** degree).sum())
        assert integral == pytest.approx(1 / (degree + 1), rel=1e-6)
