"""Stacked cohorts: each score date its own component, nothing from on or after its date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_market

from gnn.cohorts import stack_cohorts
from gnn.data import FeatureScaler, SnapshotFrames, build_graph

D1 = pd.Timestamp("2023-09-01", tz="UTC")
D2 = pd.Timestamp("2024-01-01", tz="UTC")


def _two_dates(feature_set) -> tuple[SnapshotFrames, FeatureScaler]:
    market = tiny_market(n=200, seed=12, as_of="2024-01-01")
    earlier = market.outcomes.assign(as_of=D1)
    outcomes = pd.concat([earlier, market.outcomes], ignore_index=True)
    frames = SnapshotFrames(market.businesses, market.identifiers, market.orders, outcomes)
    scaler = FeatureScaler(feature_set.own + feature_set.counterparty)
    return frames, scaler.fit(feature_set.frame(frames, D2))


def test_every_component_is_the_graph_as_of_its_own_date(feature_set) -> None:
    frames, scaler = _two_dates(feature_set)
    stacked = stack_cohorts(
        frames, [D2, D1], feature_set.frame, scaler, target="defaulted", weighting="gmv"
    )
    assert stacked.dates == [D1, D2]
    alone = [
        build_graph(frames, feature_set.frame(frames, d), scaler, d, "defaulted") for d in (D1, D2)
    ]
    n1 = alone[0].data.num_nodes
    assert stacked.graph.data.num_nodes == n1 + alone[1].data.num_nodes
    # Same features, labels and edges per component as the graph built at that date alone.
    assert np.allclose(stacked.graph.data.x[:n1].numpy(), alone[0].data.x.numpy())
    assert np.allclose(stacked.graph.data.x[n1:].numpy(), alone[1].data.x.numpy())
    src, dst = stacked.graph.data.edge_index.numpy()
    assert ((src < n1) == (dst < n1)).all()  # no edge crosses dates
    assert (src < n1).sum() == alone[0].data.edge_index.shape[1]
    # Fewer trading pairs before D1 than before D2: the earlier component saw no later order.
    assert alone[0].data.edge_index.shape[1] < alone[1].data.edge_index.shape[1]
    assert list(stacked.groups[:n1]) == list(alone[0].business_ids)
    assert stacked.graph.business_ids[0].endswith("@2023-09-01")


def test_an_order_on_the_score_date_changes_only_later_cohorts(feature_set) -> None:
    frames, scaler = _two_dates(feature_set)
    before = stack_cohorts(frames, [D1, D2], feature_set.frame, scaler, target="defaulted",
                           weighting="gmv")  # fmt: skip
    late = frames.orders.iloc[:40].copy()
    late["txn_id"] = late["txn_id"] + "-late"
    late["ts"] = D1  # on the score date itself: must not reach the D1 cohort
    late["status_at"] = D1
    grown = SnapshotFrames(
        frames.businesses, frames.identifiers, pd.concat([frames.orders, late]), frames.outcomes
    )
    after = stack_cohorts(grown, [D1, D2], feature_set.frame, scaler, target="defaulted",
                          weighting="gmv")  # fmt: skip
    n1 = int((~pd.Series(before.graph.business_ids).str.endswith(str(D2.date()))).sum())
    assert np.allclose(after.graph.data.x[:n1].numpy(), before.graph.data.x[:n1].numpy())
    assert not np.allclose(after.graph.data.x[n1:].numpy(), before.graph.data.x[n1:].numpy())
    first = before.graph.data.edge_weight[: (before.graph.data.edge_index[0] < n1).sum()]
    first_after = after.graph.data.edge_weight[: (after.graph.data.edge_index[0] < n1).sum()]
    assert torch_equal(first, first_after)


def torch_equal(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def test_stacking_needs_the_temporal_split() -> None:
    from gnn.evaluate import EvaluationConfig

    with pytest.raises(ValueError, match="temporal"):
        EvaluationConfig(split="cv", seeds=2, train_dates=(D1,), train_as_of=D2)
