"""Small, fast training settings and a tiny market for the scoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gnn.baselines import TreeConfig
from gnn.data import SnapshotFrames
from gnn.evaluate import FeatureSet
from gnn.model import SAGEConfig
from gnn.scoring import TrainingConfig
from gnn.selection import ModelConfig, SelectionConfig
from gnn.train import TrainConfig
from tests.gnn.conftest import COUNTERPARTY, OWN, simple_features, tiny_market

MODELS = ModelConfig(
    trees=TreeConfig(n_estimators=80, early_stopping_rounds=20),
    train=TrainConfig(max_epochs=25, patience=10),
    sage=SAGEConfig(hidden=16),
)


def fast(champion: str = "auto", folds: int = 3) -> TrainingConfig:
    """Small, quick training settings: ``folds`` folds, ``champion`` auto or forced."""
    return TrainingConfig(selection=SelectionConfig(folds=folds, champion=champion), models=MODELS)


def assert_scored_alike(got: pd.Series, expected: pd.Series) -> None:
    """One business's score row equals its row in the full run: PD within 1e-6, the same
    score, grade, reason codes, applicant texts and analyst details."""
    assert got["pd"] == pytest.approx(expected["pd"], abs=1e-6)
    assert (got["score"], got["grade"]) == (expected["score"], expected["grade"])
    assert got["reason_codes"] == expected["reason_codes"]
    assert got["reasons"] == expected["reasons"]
    assert got["reason_details"] == expected["reason_details"]


FEATURES = FeatureSet(compute=simple_features, own=OWN, counterparty=COUNTERPARTY)


def market(n: int = 240) -> SnapshotFrames:
    return tiny_market(n=n, seed=3)


def with_island(frames: SnapshotFrames, n: int = 12, prefix: str = "z") -> SnapshotFrames:
    """``frames`` plus ``n`` new businesses that trade and share a phone only among themselves:
    a part of the graph unrelated to every existing business."""
    rng = np.random.default_rng(11)
    as_of = frames.as_of
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    businesses = pd.DataFrame(
        {
            "business_id": ids,
            "kind": "sme",
            "registered_at": as_of - pd.Timedelta(days=200),
            "region": "R9",
            "industry": "retail",
            "employees": pd.array([5] * n, dtype="Int64"),
            "declared_revenue": 1e5,
            "_noisy": rng.normal(3.0, 0.5, size=n),
        }
    )
    k = 8 * n
    sellers, buyers = rng.integers(0, n, k), rng.integers(0, n, k)
    keep = sellers != buyers
    ts = as_of - pd.to_timedelta(rng.integers(1, 150, k)[keep], unit="D")
    orders = pd.DataFrame(
        {
            "txn_id": [f"{prefix}t{i}" for i in range(int(keep.sum()))],
            "seller_id": [ids[s] for s in sellers[keep]],
            "buyer_id": [ids[b] for b in buyers[keep]],
            "ts": ts,
            "amount": 500.0,
            "currency": "USD",
            "amount_base": 500.0,
            "status": "completed",
            "status_at": ts,
            "category": "goods",
        }
    )
    identifiers = pd.DataFrame({"business_id": ids, "id_type": "phone", "id_hash": f"{prefix}h"})
    return SnapshotFrames(
        pd.concat([frames.businesses, businesses], ignore_index=True),
        pd.concat([frames.identifiers, identifiers], ignore_index=True),
        pd.concat([frames.orders, orders], ignore_index=True),
        frames.outcomes,
        as_of,
        credit_events=getattr(frames, "credit_events", None),
    )
