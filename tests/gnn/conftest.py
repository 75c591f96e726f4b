"""Small hand-built marketplaces for gnn tests (no Neo4j, no shared data).

Risk has a planted graph signal: a business defaults more often when the businesses it sells
to are risky, which its own noisy feature only partly shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gnn.data import SnapshotFrames
from gnn.evaluate import FeatureSet

UTC = "UTC"
# Small graphs: one thread avoids OpenMP spin contention on a shared 2-core machine.
torch.set_num_threads(1)
OWN = ["own_noisy_risk", "own_orders"]
COUNTERPARTY = ["cp_orders"]


def tiny_market(n: int = 300, seed: int = 0, as_of: str = "2024-01-01") -> SnapshotFrames:
    """``n`` businesses, ~6 orders each, outcomes as of ``as_of`` for every business."""
    rng = np.random.default_rng(seed)
    as_of_ts = pd.Timestamp(as_of, tz=UTC)
    ids = [f"b{i:05d}" for i in range(n)]
    risk = rng.normal(size=n)
    registered = as_of_ts - pd.to_timedelta(rng.integers(10, 700, size=n), unit="D")
    businesses = pd.DataFrame(
        {
            "business_id": ids,
            "kind": "sme",
            "registered_at": registered,
            "region": "R1",
            "industry": "retail",
            "employees": pd.array(rng.integers(1, 50, size=n), dtype="Int64"),
            "declared_revenue": rng.uniform(1e4, 1e6, size=n),
        }
    )
    n_orders = 6 * n
    sellers = rng.integers(0, n, size=n_orders)
    buyers = (sellers + rng.integers(1, n, size=n_orders)) % n
    ts = as_of_ts - pd.to_timedelta(rng.integers(1, 300, size=n_orders), unit="D")
    orders = pd.DataFrame(
        {
            "txn_id": [f"t{i}" for i in range(n_orders)],
            "seller_id": [ids[s] for s in sellers],
            "buyer_id": [ids[b] for b in buyers],
            "ts": ts,
            "amount": rng.uniform(10, 1000, size=n_orders),
            "currency": "USD",
            "amount_base": rng.uniform(10, 1000, size=n_orders),
            "status": "completed",
            "status_at": ts,
            "category": "goods",
        }
    )
    buyer_risk = pd.Series(risk[buyers]).groupby(sellers).mean().reindex(range(n)).fillna(0.0)
    logit = 0.8 * risk + 1.6 * buyer_risk.to_numpy() - 1.5
    defaulted = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    outcomes = pd.DataFrame(
        {
            "business_id": ids,
            "as_of": as_of_ts,
            "defaulted": pd.array(defaulted, dtype="Int8"),
            "fraud": pd.array(np.zeros(n, dtype=int), dtype="Int8"),
        }
    )
    identifiers = pd.DataFrame(
        {
            "business_id": ids,
            "id_type": "phone",
            "id_hash": [f"h{i // 2}" for i in range(n)],
        }
    )
    businesses["_noisy"] = risk + rng.normal(scale=1.0, size=n)
    return SnapshotFrames(businesses, identifiers, orders, outcomes, as_of_ts)


def simple_features(
    businesses: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    identifiers: pd.DataFrame | None = None,
    credit_events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Stand-in for ``loaders.features.compute_features`` on :func:`tiny_market` frames."""
    alive = businesses[businesses["registered_at"] < as_of].set_index("business_id")
    placed = orders[orders["ts"] < as_of]
    sold = placed.groupby("seller_id").size().reindex(alive.index).fillna(0.0)
    bought = placed.groupby("buyer_id").size().reindex(alive.index).fillna(0.0)
    return pd.DataFrame(
        {
            "own_noisy_risk": alive["_noisy"].astype(float),
            "own_orders": sold.astype(float),
            "cp_orders": bought.astype(float),
        },
        index=alive.index.astype(str),
    )


@pytest.fixture
def feature_set() -> FeatureSet:
    return FeatureSet(compute=simple_features, own=OWN, counterparty=COUNTERPARTY)


@pytest.fixture
def market() -> SnapshotFrames:
    return tiny_market()
