"""Model artefact: round trip, safe loading, latest folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gnn.artefact import ArtefactError, latest_artefact, load_artefact
from gnn.scoring import score, train_models
from tests.gnn.scoring_fixtures import FEATURES, fast, market


def test_saved_artefact_scores_exactly_like_the_trained_one(tmp_path: Path) -> None:
    frames = market()
    trained = train_models(
        frames, frames.as_of, fast("hybrid"), feature_set=FEATURES, models_dir=tmp_path,
    )  # fmt: skip
    folder = latest_artefact(tmp_path)
    assert folder.name == trained.model_version
    loaded = load_artefact(folder)
    assert (loaded.champion, loaded.feature_columns) == ("hybrid", trained.feature_columns)
    assert loaded.scale == trained.scale and loaded.grades == trained.grades
    a = score(trained, frames, frames.as_of, feature_set=FEATURES, with_reasons=False)
    b = score(loaded, frames, frames.as_of, feature_set=FEATURES, with_reasons=False)
    assert np.allclose(a["pd"], b["pd"]) and (a["grade"] == b["grade"]).all()
    # Weights are a plain state dict: loadable without unpickling arbitrary objects.
    state = torch.load(folder / "sage" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["champion"] == "hybrid" and meta["calibration"]["fitted_on"] > 0
    assert (folder / "model_card.md").exists()


def test_latest_artefact_is_the_most_recently_trained(tmp_path: Path) -> None:
    frames = market()
    first = train_models(frames, frames.as_of, fast("trees_own"), feature_set=FEATURES,
                         models_dir=tmp_path)  # fmt: skip
    time.sleep(1.1)
    second = train_models(frames, frames.as_of, fast("trees_own"), feature_set=FEATURES,
                          models_dir=tmp_path)  # fmt: skip
    assert first.model_version != second.model_version
    assert latest_artefact(tmp_path).name == second.model_version


def test_missing_models_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="tradegraph train"):
        latest_artefact(tmp_path / "nothing")
    with pytest.raises(ArtefactError, match="tradegraph train"):
        load_artefact(tmp_path)
