"""The model artefact: one folder per trained model, everything needed to score and explain.

Layout of ``<models_dir>/<model_version>/``::

    meta.json      model_version, trained_as_of, trained_at, champion kind, target, feature
                   lists, typical feature values, calibration, score scale, grades, metrics
    sage/          GraphSAGE (``weights.pt`` state dict via torch.save, read back with
                   ``torch.load(weights_only=True)``; ``sage.json`` config and feature scaling)
    trees.txt      LightGBM model as text (tree champions and the hybrid)
    model_card.md  the model card written at training

Nothing is unpickled: weights are tensors only, trees are text, the rest is JSON.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd

from gnn.calibration import Calibrator
from gnn.scale import Grades, ScoreScale
from gnn.train import TrainedSAGE
from loaders.features import FeatureReference

META_FILE = "meta.json"
TREES_FILE = "trees.txt"
SAGE_DIR = "sage"
CARD_FILE = "model_card.md"
#: Champion kinds (the names used by ``gnn.evaluate.MODELS``).
CHAMPION_KINDS: tuple[str, ...] = ("trees_own", "trees_own_cp", "graphsage", "hybrid")


class ArtefactError(RuntimeError):
    """A model folder is missing or incomplete."""


@dataclass
class Artefact:
    """A trained, calibrated champion with its scale. ``tree_columns`` are the raw feature
    columns the trees read (the hybrid adds GraphSAGE embeddings after them);
    ``typical`` holds training medians of every feature, for reason texts;
    ``feature_reference`` the population figures features are read against when scoring
    (frozen at training, so a business's score never moves because others arrived)."""

    model_version: str
    trained_as_of: pd.Timestamp
    champion: str
    target: str
    own_features: list[str]
    counterparty_features: list[str]
    tree_columns: list[str]
    calibrator: Calibrator
    scale: ScoreScale
    grades: Grades
    sage: TrainedSAGE | None = None
    trees: lgb.Booster | None = None
    typical: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    trained_at: str = ""
    feature_reference: FeatureReference | None = None
    folder: Path | None = None

    def __post_init__(self) -> None:
        if self.champion not in CHAMPION_KINDS:
            raise ArtefactError(f"unknown champion kind {self.champion!r}")
        needs_sage = self.champion in ("graphsage", "hybrid")
        needs_trees = self.champion != "graphsage"
        if needs_sage and self.sage is None:
            raise ArtefactError(f"a {self.champion} artefact needs its GraphSAGE model")
        if needs_trees and self.trees is None:
            raise ArtefactError(f"a {self.champion} artefact needs its LightGBM model")

    @property
    def feature_columns(self) -> list[str]:
        """Every feature the model reads from ``loaders.features`` (own then counterparty)."""
        return [*self.own_features, *self.counterparty_features]

    @property
    def card_path(self) -> Path | None:
        return None if self.folder is None else self.folder / CARD_FILE


def new_model_version(as_of: pd.Timestamp, trained_at: pd.Timestamp) -> str:
    """``m<as_of>-<trained_at>-<6 hex>``: sortable by training time, unique per run."""
    return f"m{as_of:%Y%m%d}-{trained_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def save_artefact(artefact: Artefact, models_dir: Path) -> Path:
    """Write ``artefact`` to ``models_dir/<model_version>/`` and return that folder."""
    folder = Path(models_dir) / artefact.model_version
    folder.mkdir(parents=True, exist_ok=True)
    if artefact.sage is not None:
        artefact.sage.save(folder / SAGE_DIR)
    if artefact.trees is not None:
        artefact.trees.save_model(str(folder / TREES_FILE))
    meta = {
        "model_version": artefact.model_version,
        "trained_as_of": artefact.trained_as_of.isoformat(),
        "trained_at": artefact.trained_at,
        "champion": artefact.champion,
        "target": artefact.target,
        "own_features": artefact.own_features,
        "counterparty_features": artefact.counterparty_features,
        "tree_columns": artefact.tree_columns,
        "typical": artefact.typical,
        "calibration": artefact.calibrator.to_dict(),
        "scale": artefact.scale.to_dict(),
        "grades": artefact.grades.to_dict(),
        "metrics": artefact.metrics,
        "feature_reference": (
            None if artefact.feature_reference is None else artefact.feature_reference.to_dict()
        ),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    artefact.folder = folder
    return folder


def load_artefact(folder: Path, device: str = "cpu") -> Artefact:
    """Read a folder written by :func:`save_artefact` (weights with ``weights_only=True``)."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.exists():
        raise ArtefactError(
            f"{meta_path} not found: pass a model folder written by `tradegraph train`"
        )
    meta = json.loads(meta_path.read_text())
    sage = TrainedSAGE.load(folder / SAGE_DIR, device) if (folder / SAGE_DIR).exists() else None
    trees_path = folder / TREES_FILE
    trees = lgb.Booster(model_file=str(trees_path)) if trees_path.exists() else None
    reference = meta.get("feature_reference")
    return Artefact(
        model_version=meta["model_version"],
        trained_as_of=pd.Timestamp(meta["trained_as_of"]),
        trained_at=meta.get("trained_at", ""),
        champion=meta["champion"],
        target=meta["target"],
        own_features=list(meta["own_features"]),
        counterparty_features=list(meta["counterparty_features"]),
        tree_columns=list(meta["tree_columns"]),
        typical={k: float(v) for k, v in meta.get("typical", {}).items()},
        calibrator=Calibrator.from_dict(meta["calibration"]),
        scale=ScoreScale.from_dict(meta["scale"]),
        grades=Grades.from_dict(meta["grades"]),
        metrics=meta.get("metrics", {}),
        sage=sage,
        trees=trees,
        feature_reference=None if reference is None else FeatureReference.from_dict(reference),
        folder=folder,
    )


def latest_artefact(models_dir: Path) -> Path:
    """The most recently trained model folder in ``models_dir`` (by ``trained_at``)."""
    models_dir = Path(models_dir)
    candidates = []
    for meta_path in models_dir.glob(f"*/{META_FILE}") if models_dir.exists() else []:
        try:
            trained_at = json.loads(meta_path.read_text()).get("trained_at", "")
        except json.JSONDecodeError:
            continue
        candidates.append((str(trained_at), meta_path.parent.name, meta_path.parent))
    if not candidates:
        raise ArtefactError(
            f"no trained model in {models_dir}: run `tradegraph train --as-of DATE` first "
            "or pass --model PATH"
        )
    return max(candidates)[2]
