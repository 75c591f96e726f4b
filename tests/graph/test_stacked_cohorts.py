"""Stacked training cohorts read from the real Neo4j: a cohort is the graph as of its own
date, so loading everything that happened later changes nothing in it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.cohorts import stack_cohorts
from gnn.data import FeatureScaler
from gnn.evaluate import FeatureSet
from graph.load import load_frames
from graph.snapshot import read_snapshot
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j

D1 = pd.Timestamp("2024-07-01", tz="UTC")
D2 = pd.Timestamp("2025-01-01", tz="UTC")


def _events(businesses: pd.DataFrame) -> pd.DataFrame:
    ids = businesses["business_id"].tolist()
    rows = [
        (b, "credit_opened", at) for b, at in zip(ids, businesses["registered_at"], strict=True)
    ]
    rows += [(b, "defaulted", D1 - pd.Timedelta(days=30)) for b in ids[1:4]]  # known at D1
    rows += [(b, "defaulted", D1 + pd.Timedelta(days=30)) for b in ids[20:24]]  # only at D2
    events = pd.DataFrame(rows, columns=["business_id", "event", "at"])
    events["at"] = events["at"].astype("datetime64[us, UTC]")
    return events


def _load(driver, frames, orders, outcomes, events) -> None:
    load_frames(
        driver, frames.businesses, frames.identifiers, [orders], outcomes,
        key_fingerprint="fp", batch_size=200, credit_events=events,
    )  # fmt: skip


def _cohorts(driver, dates: list[pd.Timestamp], scaler: FeatureScaler):
    snapshots = {d: read_snapshot(driver, d) for d in dates}
    features = FeatureSet.default()
    return stack_cohorts(
        snapshots, dates, features.frame, scaler, target="defaulted", weighting="gmv"
    )


def test_a_later_load_changes_nothing_in_an_earlier_cohort(neo4j_driver) -> None:
    frames = make_frames(n_businesses=40, n_orders=600)
    events = _events(frames.businesses)
    early = frames.businesses["registered_at"] < D1
    first = frames.businesses[early]
    frames_before = type(frames)(
        first,
        frames.identifiers[frames.identifiers["business_id"].isin(first["business_id"])],
        frames.orders,
        frames.outcomes,
    )
    _load(
        neo4j_driver,
        frames_before,
        frames.orders[frames.orders["ts"] < D1],
        frames.outcomes[frames.outcomes["as_of"] == D1],
        events[(events["at"] < D1) & events["business_id"].isin(first["business_id"])],
    )
    scaler = FeatureScaler(FeatureSet.default().own + FeatureSet.default().counterparty)
    scaler.fit(FeatureSet.default().frame(read_snapshot(neo4j_driver, D1), D1))
    before = _cohorts(neo4j_driver, [D1], scaler)
    n1 = before.graph.data.num_nodes

    # Everything later: businesses, orders, outcomes and credit events from D1 on.
    _load(neo4j_driver, frames, frames.orders, frames.outcomes, events)
    after = _cohorts(neo4j_driver, [D1, D2], scaler)
    data, old = after.graph.data, before.graph.data
    assert np.array_equal(data.x[:n1].numpy(), old.x.numpy())
    assert np.array_equal(
        np.nan_to_num(data.y[:n1].numpy(), nan=-1), np.nan_to_num(old.y.numpy(), nan=-1)
    )
    first_edges = data.edge_index[0] < n1
    assert np.array_equal(data.edge_index[:, first_edges].numpy(), old.edge_index.numpy())
    assert np.array_equal(data.edge_weight[first_edges].numpy(), old.edge_weight.numpy())
    # The later load did change the graph: more businesses, trade and known defaults at D2.
    assert data.num_nodes - n1 > n1 and (~first_edges).sum() > first_edges.sum()
    later = after.features.iloc[n1:]
    assert later["known_default_365d"].sum() == 7  # 3 known at D1, 4 more by D2
    assert after.features.iloc[:n1]["known_default_365d"].sum() == 3
