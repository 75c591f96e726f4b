"""Pre-training GraphSAGE on trade change: it fits the layers, never the default head, and
never on the businesses that choose the champion or on anything after the test date."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_market
from test_evaluate import FAST

import gnn.selection as selection_module
from gnn.cohorts import stack_graphs, untag
from gnn.data import FeatureScaler, SnapshotFrames, build_graph
from gnn.evaluate import evaluate
from gnn.model import GraphSAGE, SAGEConfig
from gnn.pretrain import PretrainConfig, pretrain
from gnn.selection import SelectionConfig, fit_and_select, training_table
from gnn.train import graph_adjacencies, set_seed

PRETRAIN = replace(FAST.models, pretrain=PretrainConfig(epochs=20))


def _graph(feature_set, seed: int = 8, as_of: str = "2024-01-01"):  # type: ignore[no-untyped-def]
    market = tiny_market(n=200, seed=seed, as_of=as_of)
    features = feature_set.frame(market, market.as_of)
    scaler = FeatureScaler(list(features)).fit(features)
    graph = build_graph(market, features, scaler, market.as_of, "defaulted")
    return graph, features, scaler


def _pretrained(graph, target: np.ndarray, mask: np.ndarray) -> tuple[GraphSAGE, list[float]]:  # type: ignore[no-untyped-def]
    set_seed(3)
    config = SAGEConfig(hidden=16)
    model = GraphSAGE(graph.data.num_features, config)
    adjacencies = graph_adjacencies(graph, config, torch.device("cpu"))
    losses = pretrain(model, graph.data.x, adjacencies, target, mask, PretrainConfig(epochs=40))
    return model, losses


def test_pretraining_fits_the_layers_and_leaves_the_default_head(feature_set) -> None:
    graph, _, _ = _graph(feature_set)
    target = graph.data.x[:, 0].numpy() * 2.0 + 1.0  # learnable from the node's own input
    set_seed(3)
    untouched = GraphSAGE(graph.data.num_features, SAGEConfig(hidden=16))
    model, losses = _pretrained(graph, target, np.ones(len(target), dtype=bool))
    assert losses[-1] < 0.5 * losses[0]
    for name, before in untouched.state_dict().items():
        after = model.state_dict()[name]
        assert torch.equal(before, after) == name.startswith("head."), name


def test_targets_outside_the_mask_never_move_the_weights(feature_set) -> None:
    graph, _, _ = _graph(feature_set)
    rng = np.random.default_rng(0)
    target = rng.normal(size=graph.data.num_nodes)
    mask = rng.random(len(target)) < 0.6
    noisy = np.where(mask, target, rng.normal(scale=1e6, size=len(target)))
    noisy[~mask & (rng.random(len(target)) < 0.5)] = np.nan
    first, _ = _pretrained(graph, target, mask)
    second, _ = _pretrained(graph, noisy, mask)
    for name, weights in first.state_dict().items():
        assert torch.equal(weights, second.state_dict()[name]), name


def test_a_fold_never_pretrains_on_businesses_that_hold_out_or_stop_early(
    feature_set, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph, features, scaler = _graph(feature_set)
    table = training_table(
        graph, features, own=feature_set.own, counterparty=feature_set.counterparty,
        scaler=scaler, pretrain_target=np.linspace(-1, 1, graph.data.num_nodes),
    )  # fmt: skip
    seen = []
    real = selection_module.train_sage

    def spy(graph, fit_rows, stop_rows, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((fit_rows, stop_rows, args[-1]))
        return real(graph, fit_rows, stop_rows, *args, **kwargs)

    monkeypatch.setattr(selection_module, "train_sage", spy)
    config = SelectionConfig(folds=3, models=("trees_own_cp", "graphsage"))
    fit_and_select(table, config=config, models=PRETRAIN)
    assert len(seen) == 3
    for fit_rows, stop_rows, task in seen:
        held = np.setdiff1d(table.rows, np.concatenate([fit_rows, stop_rows]))
        assert len(held) and len(stop_rows)
        assert not task.mask[held].any() and not task.mask[stop_rows].any()
        assert task.mask[fit_rows].all()
        unlabelled = np.setdiff1d(np.arange(graph.data.num_nodes), table.rows)
        assert task.mask[unlabelled].all()


def test_stacked_nodes_name_their_business_and_score_date(feature_set) -> None:
    early, _, _ = _graph(feature_set, as_of="2023-06-01")
    late, _, _ = _graph(feature_set, as_of="2024-01-01")
    businesses, dates = untag(stack_graphs([early, late]))
    assert list(businesses[: early.data.num_nodes]) == list(early.business_ids)
    assert pd.Timestamp(dates[0]) == pd.Timestamp("2023-06-01", tz="UTC")
    assert pd.Timestamp(dates[-1]) == pd.Timestamp("2024-01-01", tz="UTC")


def _with_orders(frames: SnapshotFrames, orders: pd.DataFrame) -> SnapshotFrames:
    return SnapshotFrames(
        frames.businesses, frames.identifiers, orders, frames.outcomes, frames.as_of
    )


def test_pretraining_reads_only_the_quarter_after_the_training_date(feature_set) -> None:
    first = tiny_market(n=300, seed=3, as_of="2023-01-01")
    second = tiny_market(n=300, seed=4, as_of="2024-01-01")
    config = replace(FAST, seeds=1, models=PRETRAIN)
    base = evaluate(first, second, config, feature_set=feature_set)
    orders = second.orders
    window_end = pd.Timestamp("2023-04-01", tz="UTC")
    late = orders["ts"] >= window_end
    moved_late = orders.assign(amount_base=orders["amount_base"].where(~late, 1e6))
    same = evaluate(first, _with_orders(second, moved_late), config, feature_set=feature_set)
    # Orders after the pre-training window reach only the test graph, never the choice.
    assert same.cv_auc == base.cv_auc
    inside = (orders["ts"] < window_end).to_numpy()
    assert inside.sum() > 50
    shuffled = orders["amount_base"].to_numpy().copy()
    shuffled[inside] = np.random.default_rng(0).permutation(shuffled[inside]) * 50
    moved = evaluate(first, _with_orders(second, orders.assign(amount_base=shuffled)), config,
                     feature_set=feature_set)  # fmt: skip
    assert moved.cv_auc["graphsage"] != base.cv_auc["graphsage"]  # the target is read
    assert moved.cv_auc["trees_own_cp"] == base.cv_auc["trees_own_cp"]
