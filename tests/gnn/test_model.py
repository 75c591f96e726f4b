"""The weighted, direction-aware layer, the sampler, training and inductive scoring."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_market
from torch_geometric.nn import SAGEConv

from gnn.conv import DirectedSAGEConv, relation_adjacency, weighted_mean_adjacency
from gnn.data import FeatureScaler, build_graph, trade_pairs
from gnn.evaluate import FeatureSet
from gnn.model import SAGEConfig
from gnn.sampler import UniformNeighborSampler, node_loader, typed_edges
from gnn.train import TrainConfig, TrainedSAGE, train_sage


def test_weighted_mean_is_trade_share_weighted() -> None:
    # node 2 buys from 0 (weight 3) and 1 (weight 1): its mean is 0.75 x0 + 0.25 x1.
    edge_index = torch.tensor([[0, 1], [2, 2]])
    adjacency = weighted_mean_adjacency(edge_index, torch.tensor([3.0, 1.0]), 3)
    x = torch.tensor([[4.0], [8.0], [100.0]])
    out = torch.sparse.mm(adjacency, x)
    assert out[2, 0].item() == pytest.approx(0.75 * 4 + 0.25 * 8)
    assert out[0, 0].item() == 0.0  # no sellers: nothing aggregated


def test_directions_are_kept_apart() -> None:
    edge_index = torch.tensor([[0], [1]])  # 0 sells to 1
    buys_from, sells_to = relation_adjacency(edge_index, None, 2)
    x = torch.tensor([[1.0], [10.0]])
    assert torch.sparse.mm(buys_from, x).squeeze().tolist() == [0.0, 1.0]
    assert torch.sparse.mm(sells_to, x).squeeze().tolist() == [10.0, 0.0]


def test_unweighted_conv_matches_pyg_sageconv_on_one_relation() -> None:
    torch.manual_seed(0)
    edge_index = torch.randint(0, 20, (2, 60))
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    x = torch.randn(20, 5)
    reference = SAGEConv(5, 4, aggr="mean")
    ours = DirectedSAGEConv(5, 4, num_relations=1)
    with torch.no_grad():  # our weight is [W_root | W_relation]
        ours.lin.weight.copy_(torch.cat([reference.lin_r.weight, reference.lin_l.weight], dim=1))
        ours.lin.bias.copy_(reference.lin_l.bias)
    adjacency = [weighted_mean_adjacency(edge_index, None, 20)]
    assert torch.allclose(ours(x, adjacency), reference(x, edge_index), atol=1e-5)


def test_sampler_respects_fanout_and_keeps_seeds_first(market, feature_set: FeatureSet) -> None:
    graph = _graph(market, feature_set)
    data = typed_edges(graph, use_identifiers=True)
    sampler = UniformNeighborSampler(data, fanout=(3, 2))
    seeds = torch.tensor([5, 7, 11])
    from torch_geometric.sampler import NodeSamplerInput

    out = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))
    assert out.node[:3].tolist() == [5, 7, 11]
    first_hop = np.isin(out.col.numpy(), [0, 1, 2])
    assert np.bincount(out.col[first_hop].numpy(), minlength=3).max() <= 3
    # every sampled edge is a real edge of the typed graph
    edges = set(map(tuple, data.edge_index.T.tolist()))
    node = out.node.numpy()
    for r, c in zip(out.row.tolist(), out.col.tolist(), strict=True):
        assert (node[r], node[c]) in edges
    batch = next(iter(node_loader(graph, np.arange(10), True, (3, 2), batch_size=4)))
    assert batch.batch_size == 4 and batch.edge_type.max() <= 2


def _graph(market, feature_set: FeatureSet, as_of: pd.Timestamp | None = None):
    as_of = as_of or market.as_of
    features = feature_set.frame(market, as_of)
    scaler = FeatureScaler(feature_set.own + feature_set.counterparty).fit(features)
    return build_graph(market, features, scaler, as_of, "defaulted")


def test_orders_after_as_of_change_no_edge(market) -> None:
    as_of = market.as_of
    late = market.orders.iloc[:50].copy()
    late["txn_id"] = late["txn_id"] + "_late"
    late["ts"] = as_of + pd.Timedelta(days=3)
    changed = market.orders.copy()
    changed.loc[changed.index[:20], ["status", "status_at"]] = [
        "cancelled",
        as_of + pd.Timedelta(days=1),
    ]
    before = trade_pairs(market.orders, as_of)
    after = trade_pairs(pd.concat([changed, late]), as_of)
    pd.testing.assert_frame_equal(before, after)


def test_training_learns_and_scores_new_business_inductively(
    feature_set: FeatureSet, tmp_path: Path
) -> None:
    market = tiny_market(n=800, seed=1)
    graph = _graph(market, feature_set)
    labelled = graph.labelled
    rng = np.random.default_rng(0)
    rng.shuffle(labelled)
    train_idx, val_idx = np.sort(labelled[:560]), np.sort(labelled[560:])
    config = SAGEConfig(hidden=16)
    trained = train_sage(
        graph,
        train_idx,
        val_idx,
        graph_scaler(feature_set, market),
        config,
        TrainConfig(max_epochs=60, patience=20),
        seed=0,
    )
    assert trained.val_auc > 0.6  # the planted signal is learnable

    # A newcomer arrives after training: it sells to the riskiest businesses.
    newcomer = "new-0001"
    risky = graph.business_ids[np.argsort(-market.businesses["_noisy"].to_numpy())[:5]]
    later = market.as_of + pd.Timedelta(days=30)
    businesses = pd.concat(
        [
            market.businesses,
            market.businesses.iloc[[0]].assign(
                business_id=newcomer, registered_at=market.as_of + pd.Timedelta(days=1)
            ),
        ],
        ignore_index=True,
    )
    orders = pd.concat(
        [
            market.orders,
            pd.DataFrame(
                {
                    **{c: market.orders[c].iloc[0] for c in market.orders.columns},
                    "txn_id": [f"new-{i}" for i in range(5)],
                    "seller_id": newcomer,
                    "buyer_id": list(risky),
                    "ts": market.as_of + pd.Timedelta(days=10),
                    "status_at": market.as_of + pd.Timedelta(days=10),
                }
            ),
        ],
        ignore_index=True,
    )
    grown = type(market)(businesses, market.identifiers, orders, market.outcomes, later)

    trained.save(tmp_path / "model")
    loaded = TrainedSAGE.load(tmp_path / "model")
    features = feature_set.frame(grown, later)
    new_graph = build_graph(grown, features, loaded.scaler, later)
    probability = loaded.predict_proba(new_graph)
    position = new_graph.index_of([newcomer])[0]
    assert position >= 0 and 0.0 < probability[position] < 1.0
    assert np.allclose(loaded.predict_proba(graph), trained.predict_proba(graph), atol=1e-6)

    # Its score depends on its neighbours: cutting its trade changes it.
    isolated = build_graph(
        type(market)(businesses, market.identifiers, market.orders, market.outcomes, later),
        feature_set.frame(grown, later),
        loaded.scaler,
        later,
    )
    assert loaded.predict_proba(isolated)[position] != pytest.approx(probability[position])


def graph_scaler(feature_set: FeatureSet, market) -> FeatureScaler:
    features = feature_set.frame(market, market.as_of)
    return FeatureScaler(feature_set.own + feature_set.counterparty).fit(features)


def test_mini_batch_training_runs_through_pyg_node_loader(feature_set: FeatureSet) -> None:
    market = tiny_market(n=200, seed=2)
    graph = _graph(market, feature_set)
    labelled = graph.labelled
    trained = train_sage(
        graph,
        labelled[:150],
        labelled[150:],
        graph_scaler(feature_set, market),
        SAGEConfig(hidden=8),
        TrainConfig(max_epochs=3, patience=3, batch_size=64, fanout=(5, 5)),
    )
    assert trained.epochs_run == 3
    assert all(np.isfinite(h["loss"]) for h in trained.history)
    # Steps of 64 of the 150 labelled rows run at the square-root-scaled rate.
    assert all(h["lr"] == pytest.approx(0.005 * math.sqrt(64 / 150)) for h in trained.history)


def test_mini_batch_rate_follows_the_square_root_rule() -> None:
    config = TrainConfig(lr=0.01)
    assert config.step_lr(10_000, None) == 0.01  # full batch keeps its rate
    assert config.step_lr(10_000, 20_000) == 0.01  # a batch as large as the data is full batch
    assert config.step_lr(10_000, 100) == pytest.approx(0.001)
    assert config.step_lr(10_000, 400) == pytest.approx(2 * config.step_lr(10_000, 100))
    assert TrainConfig(lr=0.01, minibatch_lr="same").step_lr(10_000, 100) == 0.01
    with pytest.raises(ValueError, match="minibatch_lr"):
        TrainConfig(minibatch_lr="linear").step_lr(10_000, 100)  # type: ignore[arg-type]
