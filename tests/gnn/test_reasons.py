"""Reason codes come from the champion, name real counterparties, and are stable."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.artefact import Artefact
from gnn.reasons import MAX_REASONS, group_of, split_counterparty
from gnn.scoring import score, train_models
from tests.gnn.scoring_fixtures import FEATURES, fast, market, with_island


@pytest.fixture(scope="module", params=["graphsage", "trees_own_cp", "hybrid"])
def trained(request: pytest.FixtureRequest) -> tuple[Artefact, object]:
    frames = market()
    artefact = train_models(frames, frames.as_of, fast(request.param), feature_set=FEATURES)
    return artefact, frames


def _counterparties(frames, business_id: str) -> set[str]:
    orders = frames.orders
    sold = orders.loc[orders["seller_id"] == business_id, "buyer_id"]
    bought = orders.loc[orders["buyer_id"] == business_id, "seller_id"]
    return set(sold) | set(bought)


def test_reasons_are_ranked_capped_and_name_counterparties(trained) -> None:
    artefact, frames = trained
    ids = frames.businesses["business_id"].iloc[:40].tolist()
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES, business_ids=ids)
    assert len(scores) == 40
    assert all(len(r) <= MAX_REASONS for r in scores["reasons"])
    riskiest = scores.iloc[:10]
    assert all(len(r) >= 1 for r in riskiest["reasons"])
    for row in scores.itertuples():
        partners = _counterparties(frames, row.business_id)
        for text in row.reasons:
            if text.startswith(("Buyers receiving", "Suppliers providing")):
                named = text.rsplit(": ", 1)[1].split(", ")
                assert set(named) <= partners, text


def test_top_reason_ignores_an_unrelated_part_of_the_graph(trained) -> None:
    artefact, frames = trained
    ids = frames.businesses["business_id"].iloc[:30].tolist()
    before = score(artefact, frames, frames.as_of, feature_set=FEATURES, business_ids=ids)
    changed = with_island(frames)
    after = score(artefact, changed, frames.as_of, feature_set=FEATURES, business_ids=ids)
    before, after = before.set_index("business_id"), after.set_index("business_id")
    assert np.allclose(before.loc[ids, "pd"], after.loc[ids, "pd"])
    for business in ids:
        assert before.at[business, "reasons"][:1] == after.at[business, "reasons"][:1]


def test_feature_groups_and_counterparty_names() -> None:
    assert group_of("seller_gmv_30d").name == group_of("seller_orders_365d").name
    assert group_of("seller_refund_rate").label == "refund rate on sales"
    assert group_of("my_new_feature").label == "my new feature"
    assert split_counterparty("buyers_wmean_seller_refund_rate") == (
        "buyers",
        "seller_refund_rate",
    )
    assert split_counterparty("seller_refund_rate") is None
