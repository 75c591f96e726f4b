"""Reasons come from the champion, carry a stable code and two texts, name real counterparties
to the analyst and none to the applicant, and stay put when unrelated businesses arrive."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from gnn.artefact import Artefact
from gnn.data import SnapshotFrames
from gnn.evaluate import FeatureSet
from gnn.reason_codes import RELATIONS, UNIT_INDEX, UNITS, catalogue, code_of, unit_of
from gnn.reasons import (
    MAX_NAMED,
    MAX_REASONS,
    NodeAttributions,
    TradeIndex,
    explain,
    gnn_readout,
    integrated_gradients,
    named_counterparties,
    rank_units,
    unit_matrix,
)
from gnn.scoring import prepare_scores, score, train_models
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tests.gnn.scoring_fixtures import fast, with_island
from tests.loaders.test_feature_reference import _newcomers

CODES = {code_of(unit) for unit in UNITS}
#: The real feature set: reasons are read from what the product computes, not stand-ins.
FEATURES = FeatureSet.default()


def synthetic_market() -> SnapshotFrames:
    """A small generated marketplace (1,500 businesses), cut at its first score date."""
    market = generate_marketplace(SyntheticConfig(n_businesses=1500, seed=5, monthly_cohorts=False))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    as_of = market.as_of_dates[0]
    outcomes = outcomes[outcomes["as_of"] == as_of]
    return SnapshotFrames(
        businesses, identifiers, orders, outcomes, as_of, credit_events=market.credit_events
    )


@pytest.fixture(scope="module", params=["graphsage", "trees_own_cp", "hybrid"])
def trained(request: pytest.FixtureRequest) -> tuple[Artefact, object]:
    frames = synthetic_market()
    artefact = train_models(frames, frames.as_of, fast(request.param), feature_set=FEATURES)
    return artefact, frames


def _counterparties(frames, business_id: str) -> set[str]:
    orders = frames.orders
    sold = orders.loc[orders["seller_id"] == business_id, "buyer_id"]
    bought = orders.loc[orders["buyer_id"] == business_id, "seller_id"]
    return set(sold) | set(bought)


def test_reasons_are_ranked_capped_coded_and_aligned(trained) -> None:
    artefact, frames = trained
    smes = frames.businesses.loc[frames.businesses["kind"] == "sme", "business_id"]
    ids = smes[frames.businesses["registered_at"] < frames.as_of].iloc[:40].tolist()
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES, business_ids=ids)
    assert sorted(scores["business_id"]) == sorted(ids)
    assert all(len(r) <= MAX_REASONS for r in scores["reasons"])
    assert all(len(r) >= 1 for r in scores.iloc[:10]["reasons"])
    for row in scores.itertuples():
        assert len(row.reasons) == len(row.reason_codes) == len(row.reason_details)
        assert set(row.reason_codes) <= CODES
        assert len(set(row.reason_codes)) == len(row.reason_codes)


def test_analyst_details_name_real_counterparties(trained) -> None:
    artefact, frames = trained
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES).head(200)
    named_any = False
    all_ids = set(frames.businesses["business_id"])
    for row in scores.itertuples():
        partners = _counterparties(frames, row.business_id)
        for code, detail in zip(row.reason_codes, row.reason_details, strict=True):
            named = {m for m in re.findall(r"\w+", detail) if m in all_ids}
            if code.startswith(("BUYERS_", "SUPPLIERS_")):
                assert named <= partners, detail
                named_any |= bool(named)
    assert named_any, "no counterparty reason named a counterparty"


def test_applicant_texts_name_no_business_and_compare_with_nothing(trained) -> None:
    artefact, frames = trained
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES)
    all_ids = set(frames.businesses["business_id"])
    for text in (t for texts in scores["reasons"] for t in texts):
        assert not any(word in all_ids for word in re.findall(r"\w+", text)), text
        assert "typical" not in text
        assert not re.search(r"default|fraud", text, re.I) or text.startswith(
            ("A default on its own", "Fraud confirmed on its own")
        ), text
        assert text[0].isupper(), text


def test_top_reason_ignores_an_unrelated_part_of_the_graph(trained) -> None:
    artefact, frames = trained
    before = score(artefact, frames, frames.as_of, feature_set=FEATURES)
    changed = with_island(frames)
    after = score(artefact, changed, frames.as_of, feature_set=FEATURES)
    before, after = before.set_index("business_id"), after.set_index("business_id")
    ids = before.index
    assert np.allclose(before["pd"], after.loc[ids, "pd"])
    for business in ids:
        assert before.at[business, "reason_codes"][:1] == after.at[business, "reason_codes"][:1]
        assert before.at[business, "reasons"][:1] == after.at[business, "reasons"][:1]


def test_top_reason_holds_when_one_percent_new_businesses_of_every_size_arrive(trained) -> None:
    """The newcomers move the population's percentiles and size medians; the frozen feature
    reference keeps every existing business's score and top reason (99% required)."""
    artefact, frames = trained
    assert artefact.feature_reference is not None
    before = score(artefact, frames, frames.as_of, feature_set=FEATURES).set_index("business_id")
    extra_b, extra_o = _newcomers(frames, max(len(frames.businesses) // 100, 10))
    grown = SnapshotFrames(
        pd.concat([frames.businesses, extra_b], ignore_index=True),
        frames.identifiers,
        pd.concat([frames.orders, extra_o], ignore_index=True),
        frames.outcomes,
        frames.as_of,
        credit_events=frames.credit_events,
    )
    after = score(artefact, grown, frames.as_of, feature_set=FEATURES).set_index("business_id")
    after = after.loc[before.index]
    same = [a[:1] == b[:1] for a, b in zip(before["reasons"], after["reasons"], strict=True)]
    assert np.mean(same) >= 0.99
    assert np.allclose(before["pd"], after["pd"], atol=1e-9)


def test_every_feature_lands_in_one_unit_of_the_catalogue() -> None:
    assert unit_of("seller_gmv_30d") == unit_of("seller_orders_365d") == ("self", "sales_volume")
    assert unit_of("buyers_wmean_seller_refund_rate") == ("buyers", "disputes")
    assert unit_of("suppliers_share_defaulted_90d") == ("suppliers", "credit")
    assert unit_of("buyers_share_distressed_2hop") == ("buyers", "strain")
    # a neighbour's own aggregate counts toward the relation it sits in, not its own side
    assert unit_of("buyers_wmean_seller_refund_rate", "network") == ("network", "disputes")
    assert unit_of("known_default_365d", "suppliers") == ("suppliers", "credit")
    assert unit_of("my_new_feature") == ("self", "other")
    codes = [row["code"] for row in catalogue()]
    assert len(codes) == len(set(codes)) == len(UNITS)


def test_rank_units_keeps_only_reasons_that_raise_risk_largest_first() -> None:
    contributions = np.array([[0.1, -0.5, 0.3, 0.3, 0.0, 0.2], [-1.0, -0.1, 0.0, 0.0, 0, 0]])
    first, second = rank_units(contributions, k=3)
    assert first.tolist() == [2, 3, 5]  # ties keep catalogue order
    assert second.tolist() == []


def test_reason_texts_state_amounts_with_the_currency(trained) -> None:
    artefact, frames = trained
    scores = score(artefact, frames, frames.as_of, feature_set=FEATURES, currency="EUR")
    texts = [t for ts in scores["reasons"] + scores["reason_details"] for t in ts]
    money = [t for t in texts if re.search(r"\d[\d,]* (EUR|USD)\b", t)]
    assert money, "no reason stated an amount"
    assert all(" EUR" in t and " USD" not in t for t in money)


@pytest.mark.parametrize("trained", ["graphsage"], indirect=True)
def test_graph_reasons_sum_each_targets_own_attribution_rows_by_unit(trained) -> None:
    """The reasons reduce each pass of Integrated Gradients to units as it comes: a reason's
    contribution must equal the target's rows of the whole attribution, each mapped by its
    relation to the target and summed, and the reasons are the top units of those sums."""
    artefact, frames = trained
    prepared = prepare_scores(artefact, frames, frames.as_of, feature_set=FEATURES)
    graph, sage = prepared.graph, artefact.sage
    targets = np.flatnonzero(prepared.kind.to_numpy() == "sme")[:300]
    config = sage.sage_config
    with torch.enable_grad():
        passes = integrated_gradients(
            sage.model, graph, targets, gnn_readout(sage.model), config.use_identifiers,
            max_neighbours=config.max_neighbours,
        )  # fmt: skip
        whole = NodeAttributions.concatenate(passes, graph.data.num_features)
    ids = pd.Index(prepared.features.index.astype(str))
    relation = TradeIndex.build(ids, prepared.pairs, graph).relation_codes(
        targets[whole.target], whole.node
    )
    columns = list(sage.scaler.columns)
    expected = np.zeros((len(targets), len(UNITS)))
    for code, name in enumerate(("self", *RELATIONS)):
        rows = relation == code
        np.add.at(expected, whole.target[rows], whole.values[rows] @ unit_matrix(columns, name))
    reasons = explain(artefact, prepared.features, graph, targets, prepared.pairs)
    unit_by_code = {code_of(unit): UNIT_INDEX[unit] for unit in UNITS}
    assert sum(len(r) for r in reasons) > len(targets)
    for i, (own, top) in enumerate(zip(reasons, rank_units(expected), strict=True)):
        assert [unit_by_code[r.code] for r in own] == top.tolist()
        got = [r.contribution for r in own]
        np.testing.assert_allclose(got, expected[i, top], rtol=1e-4, atol=1e-6)


def test_named_counterparties_sum_both_parts_and_keep_the_largest_positive_first() -> None:
    """Per (target, unit) key: a counterparty's pulls add up over the trees' and the graph
    model's parts, only a positive sum names it, at most MAX_NAMED are named, largest first,
    and ties go to the lower graph position."""
    trees = (np.array([7, 7, 7, 9]), np.array([40, 41, 42, 40]), np.array([0.5, 0.3, -0.2, 1.0]))
    graph = (
        np.array([7, 7, 7, 7, 7, 9]),
        np.array([40, 42, 43, 44, 45, 40]),
        np.array([-0.4, 0.6, 0.3, 0.3, -0.1, -1.5]),
    )
    named = named_counterparties(trees, graph)
    # key 7: 40 -> 0.1, 41 -> 0.3, 42 -> 0.4, 43 -> 0.3, 44 -> 0.3, 45 -> -0.1
    assert MAX_NAMED == 3
    assert named == {7: [42, 41, 43]}  # key 9 sums to -0.5: nobody named
    assert named_counterparties(trees) == {7: [40, 41], 9: [40]}
