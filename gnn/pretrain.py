"""Pre-training GraphSAGE on a target every business has, before it learns defaults.

A cohort has a few thousand labelled businesses and a few hundred defaults, while every node
of the graph has a next-quarter trade change (:mod:`loaders.trade_change`). Pre-training fits
the model's layers (input projection and convolutions) to predict that change for every node
it may see, through a throw-away regression head; the default head is then trained from the
pre-trained layers as usual (:func:`gnn.train.train_sage`), every weight still free.

Honest use inside cross-validation: a node is a pre-training target only when its business is
in neither the fold's held-out rows nor its early-stopping rows (the trade change is read from
after the score date and tracks default, so it would leak into the rows that choose the
champion). A counterparty's trade change can still carry a held-out business's own future
(a buyer's purchases fall when its supplier fails), so a pre-trained model's cross-validated
AUC may flatter it a little; the test cohort never has a target (its window is after the test
date), so the test comparison is clean. Off by default: it did not raise the cross-validated
AUC on every seed (``benchmarks/pretrain_benchmark.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from gnn.cohorts import untag
from gnn.data import Frames, GraphData
from gnn.model import Adjacencies, GraphSAGE
from loaders.trade_change import TRADE_CHANGE_DAYS, trade_change

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainConfig:
    """``epochs`` of full-batch pre-training (0: none, the default); ``lr``: its Adam step;
    ``days``: the window of the trade change before and after each score date."""

    epochs: int = 0
    lr: float = 0.005
    days: int = TRADE_CHANGE_DAYS

    @property
    def enabled(self) -> bool:
        return self.epochs > 0


def node_trade_change(
    graph: GraphData, later: Frames, known_until: pd.Timestamp, *, days: int = TRADE_CHANGE_DAYS
) -> np.ndarray:
    """The trade change after each node's own score date ``[N]`` (NaN where its window is not
    complete by ``known_until``), from ``later``: frames holding the orders before
    ``known_until``."""
    businesses, dates = untag(graph)
    target = np.full(len(businesses), np.nan)
    for date in np.unique(dates):
        rows = np.flatnonzero(dates == date)
        ids = pd.Index(businesses[rows])
        change = trade_change(later.orders, ids, pd.Timestamp(date), known_until=known_until,
                              days=days)  # fmt: skip
        if change is not None:
            target[rows] = change.to_numpy()
    logger.info("trade-change targets for %d of %d nodes", int(np.isfinite(target).sum()),
                len(target))  # fmt: skip
    return target


@dataclass(frozen=True)
class PretrainTask:
    """What one fit pre-trains on: ``target [N]`` and the nodes it may use, ``mask [N]``."""

    target: np.ndarray
    mask: np.ndarray
    config: PretrainConfig


def pretraining_mask(
    target: np.ndarray, node_business: np.ndarray, excluded: Sequence[str] | np.ndarray
) -> np.ndarray:
    """Nodes that may be pre-training targets ``[N]`` (bool): a finite target and a business
    not among ``excluded`` (the fold's held-out and early-stopping businesses)."""
    return np.isfinite(target) & ~np.isin(node_business, np.asarray(excluded, dtype=str))


def pretrain(
    model: GraphSAGE,
    x: torch.Tensor,
    adjacencies: Adjacencies,
    target: np.ndarray,
    mask: np.ndarray,
    config: PretrainConfig,
) -> list[float]:
    """Fit ``model``'s layers to the standardised ``target`` of the ``mask`` nodes (Huber
    loss, a throw-away linear head); returns the loss per epoch. ``model.head`` is untouched."""
    rows = torch.from_numpy(np.flatnonzero(mask)).to(x.device)
    if not len(rows) or not config.enabled:
        return []
    values = target[mask]
    scale = float(values.std()) or 1.0
    y = torch.as_tensor((values - values.mean()) / scale, dtype=torch.float32, device=x.device)
    head = nn.Linear(model.embedding_dim, 1).to(x.device)
    optimiser = torch.optim.Adam([*_layers(model), *head.parameters()], lr=config.lr)
    losses = []
    model.train()
    for _ in range(config.epochs):
        optimiser.zero_grad()
        predicted = head(model.embed(x, adjacencies)[rows]).squeeze(-1)
        loss = F.huber_loss(predicted, y)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        losses.append(float(loss.detach()))
    logger.info("pre-trained on %d nodes: Huber loss %.3f -> %.3f", len(rows), losses[0],
                losses[-1])  # fmt: skip
    return losses


def _layers(model: GraphSAGE) -> list[nn.Parameter]:
    """Every parameter but the default head's."""
    head = {id(p) for p in model.head.parameters()}
    return [p for p in model.parameters() if id(p) not in head]


def targets_for(
    graph: GraphData, later: Frames | None, known_until: pd.Timestamp | None, config: PretrainConfig
) -> np.ndarray | None:
    """The pre-training target of ``graph``'s nodes when pre-training is on and ``later``
    frames (orders before ``known_until``) exist; otherwise ``None``."""
    if not config.enabled:
        return None
    if later is None or known_until is None:
        logger.warning("pre-training is on but no later orders were given: it is skipped")
        return None
    return node_trade_change(graph, later, known_until, days=config.days)


__all__ = [
    "PretrainConfig",
    "PretrainTask",
    "node_trade_change",
    "pretrain",
    "pretraining_mask",
    "targets_for",
]
