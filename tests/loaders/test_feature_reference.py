"""Population-relative features read against reference points frozen at training, so one
business's features never move because unrelated businesses arrived."""

from __future__ import annotations

import numpy as np
import pandas as pd

from loaders.features import FeatureReference, compute_features
from tests.gnn.conftest import tiny_market

#: Columns that depend on the rest of the population (directly or through counterparties).
RELATIVE = [
    "activity_to_size",
    "buyers_wmean_distress",
    "buyers_share_distressed",
    "suppliers_max_distress",
]


def _newcomers(frames, n: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` businesses of every size, trading only among themselves, some declaring only a
    headcount: they move the population's percentiles and revenue-per-employee median."""
    rng = np.random.default_rng(seed)
    ids = [f"n{i:04d}" for i in range(n)]
    businesses = pd.DataFrame(
        {
            "business_id": ids,
            "kind": "sme",
            "registered_at": frames.as_of - pd.Timedelta(days=400),
            "region": "R2",
            "industry": "retail",
            "employees": pd.array(rng.integers(1, 500, size=n), dtype="Int64"),
            "declared_revenue": np.where(rng.random(n) < 0.5, np.nan, rng.uniform(1e3, 1e8, n)),
        }
    )
    k = 10 * n
    s, b = rng.integers(0, n, k), rng.integers(0, n, k)
    keep = s != b
    ts = frames.as_of - pd.to_timedelta(rng.integers(1, 300, k)[keep], unit="D")
    amount = rng.uniform(1, 5_000, int(keep.sum()))
    orders = pd.DataFrame(
        {
            "txn_id": [f"nt{i}" for i in range(int(keep.sum()))],
            "seller_id": [ids[i] for i in s[keep]],
            "buyer_id": [ids[i] for i in b[keep]],
            "ts": ts,
            "amount": amount,
            "currency": "USD",
            "amount_base": amount,
            "status": "completed",
            "status_at": ts,
            "category": "goods",
        }
    )
    return businesses, orders


def test_reference_freezes_population_relative_features() -> None:
    frames = tiny_market(n=400, seed=2)
    base = compute_features(frames.businesses, frames.orders, frames.as_of)
    reference = FeatureReference.from_features(base)
    with_ref = compute_features(frames.businesses, frames.orders, frames.as_of, reference=reference)
    # at training time the frozen reference reproduces the population's own ranks (to the
    # reference's resolution; a threshold on them may flip for a few businesses)
    smooth = [c for c in RELATIVE if "share_" not in c]
    assert np.allclose(with_ref[smooth], base[smooth], atol=0.01)
    flipped = (with_ref["buyers_share_distressed"] - base["buyers_share_distressed"]).abs()
    assert (flipped > 0.01).mean() < 0.05

    extra_b, extra_o = _newcomers(frames, 40)
    businesses = pd.concat([frames.businesses, extra_b], ignore_index=True)
    orders = pd.concat([frames.orders, extra_o], ignore_index=True)
    live = compute_features(businesses, orders, frames.as_of).loc[base.index]
    frozen = compute_features(businesses, orders, frames.as_of, reference=reference)
    frozen = frozen.loc[base.index]
    # against the live population the newcomers move existing businesses' features ...
    assert not np.allclose(live[RELATIVE], base[RELATIVE])
    # ... against the frozen reference nothing of the existing businesses moves
    pd.testing.assert_frame_equal(frozen, with_ref)


def test_reference_round_trips_through_json() -> None:
    frames = tiny_market(n=200, seed=1)
    reference = FeatureReference.from_features(
        compute_features(frames.businesses, frames.orders, frames.as_of)
    )
    assert FeatureReference.from_dict(reference.to_dict()) == reference
    assert len(reference.activity_quantiles) == 1001
    percentiles = reference.low_activity_percentile(np.array([-1e9, 1e9]))
    assert percentiles.tolist() == [1.0, 0.0]
