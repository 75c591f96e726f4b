"""With camouflage no attribute belongs to rings alone: innocent businesses share identifiers
too, rings share only some, and ring orders look like everyone's. Without it (the default)
the marketplace is unchanged (tests/loaders/test_generator_frozen.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from loaders.columns import HUB_THRESHOLD
from loaders.features import compute_features
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "camouflaged"])
def market(request: pytest.FixtureRequest):
    config = SyntheticConfig(
        n_businesses=5000, seed=42, monthly_cohorts=False, camouflage=request.param
    )
    market = generate_marketplace(config)
    return request.param, market, to_contract_frames(market, "k")


def _ring_members(market) -> pd.Series:
    truth = market.ground_truth.drop_duplicates("business_id").set_index("business_id")
    return truth["is_ring_member"].astype(int)


def test_sharing_an_identifier_no_longer_marks_a_ring(market) -> None:
    camouflaged, generated, (businesses, identifiers, orders, _) = market
    ring = _ring_members(generated)
    smes = businesses.loc[businesses["kind"] == "sme", "business_id"]
    features = (
        compute_features(businesses, orders, generated.as_of_dates[1], identifiers=identifiers)
        .reindex(smes)
        .dropna()
    )
    y = ring.reindex(features.index).fillna(0).astype(int)
    auc = roc_auc_score(y, features["shared_id_businesses"])
    degree = identifiers.groupby(["id_type", "id_hash"])["business_id"].transform("nunique")
    shared = identifiers[(degree > 1) & (degree <= HUB_THRESHOLD)]
    precision = {
        kind: y.reindex(group["business_id"].unique()).fillna(0).mean()
        for kind, group in shared.groupby("id_type")
    }
    if camouflaged:
        assert auc < 0.9, auc
        assert max(precision.values()) < 0.5, precision  # most sharers of any kind are innocent
    else:
        assert auc > 0.95 and precision["device_id"] == 1.0  # the easy generator, for contrast


def test_ring_orders_and_identifiers_look_like_everyone_elses(market) -> None:
    camouflaged, generated, _ = market
    ring_ids = set(_ring_members(generated).loc[lambda s: s == 1].index)
    tx = generated.transactions
    ring_tx = tx[tx["seller_id"].isin(ring_ids) & tx["buyer_id"].isin(ring_ids)]
    assert len(ring_tx) > 0
    has_category = ring_tx["category"].notna().mean()
    foreign = (ring_tx["currency"] != generated.base_currency).mean()
    round_amounts = (np.mod(ring_tx["amount"], 1000) == 0).mean()
    raw = generated.businesses  # identifiers as exported, before hashing
    ring_rows = raw[raw["business_id"].isin(ring_ids)]
    missing = ring_rows[["phone", "device_id", "address", "bank_account"]].isna().to_numpy().mean()
    if camouflaged:
        assert has_category > 0.9 and foreign > 0 and round_amounts < 0.1 and missing > 0
    else:
        assert has_category == 0 and foreign == 0 and round_amounts == 1.0 and missing == 0
