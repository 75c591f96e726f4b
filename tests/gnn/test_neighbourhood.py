"""Scoring a business from its stored neighbourhood equals its row in the full run, for every
kind of champion, while reading a bounded part of the graph."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn.model import SAGEConfig
from gnn.neighbourhood import NeighbourhoodStore, prepare_neighbourhood
from gnn.scoring import prepare_scores, score_prepared, train_models
from tests.gnn.scoring_fixtures import FEATURES, MODELS, assert_scored_alike, fast, market

#: A cap small enough to bind on the tiny market's busiest traders.
CAP = 3


def _trained(champion: str):
    config = fast(champion)
    config = replace(config, models=replace(MODELS, sage=SAGEConfig(hidden=16, max_neighbours=CAP)))
    frames = market()
    return train_models(frames, frames.as_of, config, feature_set=FEATURES), frames


def _busiest(prepared, k: int) -> list[str]:
    """The ``k`` SMEs with the most counterparties (the ones the cap cuts), plus a quiet one."""
    edges = prepared.graph.data.edge_index.numpy()
    degree = np.bincount(edges.ravel(), minlength=prepared.graph.data.num_nodes)
    sme = prepared.kind.to_numpy() == "sme"
    order = np.argsort(-np.where(sme, degree, -1), kind="stable")
    quiet = int(np.flatnonzero(sme)[np.argmin(degree[sme])])
    return [str(prepared.graph.business_ids[i]) for i in [*order[:k], quiet]]


@pytest.mark.parametrize("champion", ["graphsage", "hybrid", "trees_own_cp"])
def test_neighbourhood_score_equals_the_full_run(champion: str, tmp_path: Path) -> None:
    artefact, frames = _trained(champion)
    full = prepare_scores(artefact, frames, frames.as_of, feature_set=FEATURES)
    expected = score_prepared(full).set_index("business_id")
    store = NeighbourhoodStore.write(full, tmp_path / "serving")
    wanted = _busiest(full, 4)
    degree = np.bincount(full.graph.data.edge_index.numpy()[1], minlength=len(full.kind))
    assert degree.max() > CAP  # the cap binds somewhere
    for business in wanted:
        near = prepare_neighbourhood(artefact, store, [business])
        assert near is not None
        got = score_prepared(near, business_ids=[business]).set_index("business_id")
        assert list(got.index) == [business]
        assert_scored_alike(got.loc[business], expected.loc[business])
        # it read a neighbourhood, not the marketplace
        assert near.graph.data.num_nodes < full.graph.data.num_nodes


def test_a_neighbourhood_is_bounded_by_the_cap(tmp_path: Path) -> None:
    artefact, frames = _trained("graphsage")
    full = prepare_scores(artefact, frames, frames.as_of, feature_set=FEATURES)
    store = NeighbourhoodStore.write(full, tmp_path / "serving")
    business = _busiest(full, 1)[0]
    near = prepare_neighbourhood(artefact, store, [business])
    assert near is not None
    edges = store.edges(list(near.graph.business_ids))
    trade = edges[edges["relation"] < 2]
    assert trade.groupby(["node_id", "relation"]).size().max() <= CAP
    partners = store.pairs([business])
    own = set(partners["seller_id"]) | set(partners["buyer_id"])
    # the business, 2 hops of at most CAP counterparties per direction (plus identifier
    # links), and its own trade partners
    hops = {business}
    for _ in range(2):
        hops |= set(store.edges(sorted(hops))["neighbour_id"])
    assert set(near.graph.business_ids) == hops | own


def test_a_store_of_another_model_or_unknown_businesses_is_not_used(tmp_path: Path) -> None:
    artefact, frames = _trained("trees_own_cp")
    full = prepare_scores(artefact, frames, frames.as_of, feature_set=FEATURES)
    store = NeighbourhoodStore.write(full, tmp_path / "serving")
    assert NeighbourhoodStore.open(tmp_path / "serving") == store
    assert NeighbourhoodStore.open(tmp_path / "nothing-here") is None
    assert prepare_neighbourhood(artefact, store, ["no-such-business"]) is None
    other = replace(store, model_version="another-model")
    some = str(full.graph.business_ids[0])
    assert prepare_neighbourhood(artefact, other, [some]) is None
    # a rewrite replaces the store whole
    later = replace(full, as_of=full.as_of + pd.Timedelta(days=1))
    assert NeighbourhoodStore.write(later, tmp_path / "serving").as_of == later.as_of
    assert NeighbourhoodStore.open(tmp_path / "serving").as_of == later.as_of
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving"]
