"""Gradient-boosted-tree models the GNN must beat, and the hybrid.

(a) LightGBM on a business's own features; (b) on own plus counterparty aggregates (the
GADBench-strong baseline); (d) on own + counterparty features plus GraphSAGE embeddings.
Each stops early on the validation rows taken inside the training cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class TreeConfig:
    """LightGBM settings shared by every tree model (small data: shallow, regularised)."""

    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 100
    n_jobs: int = 1


@dataclass
class TreeModel:
    """A fitted LightGBM classifier and the column names it was fitted on."""

    booster: lgb.LGBMClassifier
    columns: list[str]
    best_iteration: int

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of the positive class, ``[len(features)]``."""
        return np.asarray(self.booster.predict_proba(features))[:, 1]


def _classifier(config: TreeConfig, seed: int, n_estimators: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=config.min_child_samples,
        subsample=config.subsample,
        subsample_freq=1,
        colsample_bytree=config.colsample_bytree,
        reg_lambda=config.reg_lambda,
        random_state=seed,
        n_jobs=config.n_jobs,
        verbose=-1,
    )


def fit_trees(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    columns: list[str],
    seed: int = 0,
    config: TreeConfig = TreeConfig(),
) -> TreeModel:
    """Fit LightGBM on ``train_x [n, f]`` with early stopping on AUC of ``val_x``."""
    booster = _classifier(config, seed, config.n_estimators)
    booster.fit(
        train_x,
        train_y.astype(int),
        eval_X=(val_x,),
        eval_y=(val_y.astype(int),),
        eval_metric="auc",
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return TreeModel(booster=booster, columns=columns, best_iteration=booster.best_iteration_)


def refit_trees(
    train_x: np.ndarray,
    train_y: np.ndarray,
    columns: list[str],
    *,
    rounds: int,
    seed: int = 0,
    config: TreeConfig = TreeConfig(),
) -> TreeModel:
    """Fit LightGBM for exactly ``rounds`` boosting rounds on all of ``train_x``: the final
    model after cross-validation has told how many rounds the data supports, so no row is
    spent on early stopping."""
    booster = _classifier(config, seed, max(1, int(rounds)))
    booster.fit(train_x, train_y.astype(int))
    return TreeModel(booster=booster, columns=columns, best_iteration=max(1, int(rounds)))
