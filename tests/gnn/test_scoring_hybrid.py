"""Scoring feeds the hybrid what gnn.evaluate fits it on: features + the GraphSAGE bag's logit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gnn.artefact import load_artefact
from gnn.data import build_graph
from gnn.scoring import (
    SAGE_LOGIT_COLUMN,
    BaggedSAGE,
    bagged_sage,
    raw_probability,
    train_models,
)
from gnn.selection import _logit
from tests.gnn.scoring_fixtures import FEATURES, fast, market


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory):
    frames = market()
    folder = tmp_path_factory.mktemp("models")
    artefact = train_models(
        frames, frames.as_of, fast("hybrid"), feature_set=FEATURES, models_dir=folder,
    )  # fmt: skip
    features = FEATURES.frame(frames, frames.as_of)
    graph = build_graph(frames, features, artefact.sage.scaler, frames.as_of, None, "gmv")
    return artefact, features.reindex(graph.business_ids), graph


def _member_mean_logit(sage: BaggedSAGE, graph) -> np.ndarray:
    """What gnn.evaluate stacks for a row no member trained on: the members' mean logit."""
    return np.mean([_logit(m.predict_proba(graph)) for m in sage.members], axis=0)


def test_hybrid_reads_features_plus_the_bags_mean_logit(hybrid) -> None:
    artefact, features, graph = hybrid
    assert artefact.tree_columns == [*artefact.feature_columns, SAGE_LOGIT_COLUMN]
    sage = artefact.sage
    assert isinstance(sage, BaggedSAGE) and len(sage.members) == 3
    logit = _member_mean_logit(sage, graph)
    matrix = np.hstack([features[artefact.feature_columns].to_numpy(np.float64), logit[:, None]])
    expected = artefact.trees.predict(matrix)
    assert np.allclose(raw_probability(artefact, features, graph), expected, atol=1e-5)
    # The members really differ (each left out a different part of the training rows).
    first, second = (m.predict_proba(graph) for m in sage.members[:2])
    assert not np.allclose(first, second)


def test_graphsage_probability_is_the_sigmoid_of_the_mean_logit(hybrid) -> None:
    artefact, _, graph = hybrid
    probability = artefact.sage.predict_proba(graph)
    assert np.allclose(probability, 1 / (1 + np.exp(-_member_mean_logit(artefact.sage, graph))))


def test_a_loaded_model_folder_scores_with_the_whole_bag(hybrid) -> None:
    artefact, features, graph = hybrid
    loaded = load_artefact(artefact.folder)
    restored = bagged_sage(loaded)
    assert isinstance(restored, BaggedSAGE) and len(restored.members) == 3
    assert np.allclose(
        raw_probability(loaded, features, graph),
        raw_probability(artefact, features, graph),
        atol=1e-6,
    )
    # sage/ itself still holds one loadable model: member 0 as a plain state dict.
    state = torch.load(Path(artefact.folder) / "sage" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_the_logit_column_and_bag_size_are_recorded(hybrid) -> None:
    artefact, _, _ = hybrid
    # The logit column's typical value is what reason texts compare against.
    assert SAGE_LOGIT_COLUMN in artefact.typical
    assert artefact.metrics["gnn_bags"] == 3
