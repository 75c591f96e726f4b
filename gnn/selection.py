"""One fit-and-select routine behind ``evaluate``, ``train``, the report and the model card.

Every model is fitted the same way on the labelled training rows of one graph, and the
champion is chosen by cross-validation *inside* those rows:

1. The rows are split into ``folds`` stratified folds, grouped so that no business (one group;
   with stacked cohorts, all of its score dates) sits on both sides of a fold.
2. For each fold, every model is fitted on the other folds, early-stopping on a grouped
   ``stopping_fraction`` of them, and predicts the held-out fold. Early-stopping rows never
   choose the champion; held-out rows never stop training.
3. The champion is the model with the best mean held-out AUC over the folds (``champion``
   forces one). Calibration is fitted on the champion's out-of-fold predictions.
4. Final models: each tree model is refitted on all rows for the mean number of rounds its
   folds stopped at; GraphSAGE is the bag of its fold models (averaged in logit space); the
   hybrid (LightGBM on features plus the GraphSAGE logit) is refitted on all rows with each
   row's *out-of-fold* logit, the bag's mean logit for every other row and at scoring.

The hybrid's fold fits read out-of-fold logits of training rows that came from GNN members
which saw the held-out fold's labels: the usual second-order leak of cross-fitted stacking,
small next to fitting on in-sample logits, and the reason its held-out AUC is compared with
care. Models: ``gnn.selection.MODELS``; labels for tables: ``MODEL_LABELS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from gnn.baselines import TreeConfig, TreeModel, fit_trees, refit_trees
from gnn.calibration import Calibrator, Method, fit_calibrator
from gnn.cohorts import untag
from gnn.data import EdgeWeighting, FeatureScaler, GraphData
from gnn.errors import TrainingDataError
from gnn.metrics import all_metrics
from gnn.model import SAGEConfig
from gnn.pretrain import PretrainConfig, PretrainTask, pretraining_mask
from gnn.train import TrainConfig, TrainedSAGE, train_sage

logger = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("trees_own", "trees_own_cp", "graphsage", "hybrid")
MODEL_LABELS: dict[str, str] = {
    "trees_own": "(a) LightGBM own",
    "trees_own_cp": "(b) LightGBM own+counterparty",
    "graphsage": "(c) GraphSAGE",
    "hybrid": "(d) GraphSAGE logit + LightGBM",
}
#: Which feature matrix each tree model reads (the hybrid adds the GraphSAGE logit).
TREE_INPUTS: dict[str, str] = {"trees_own": "own", "trees_own_cp": "all", "hybrid": "all"}
#: ``calibration='auto'`` uses isotonic only from this many defaults among the fitted rows.
ISOTONIC_MIN_DEFAULTS = 200
#: Member logits are clipped where probabilities are clipped to [1e-6, 1 - 1e-6].
LOGIT_CLIP = float(np.log((1 - 1e-6) / 1e-6))

Say = Callable[[str], None]


@dataclass(frozen=True)
class ModelConfig:
    """How each model is built: GraphSAGE architecture and training, trees, edge weights,
    and whether GraphSAGE reads ``all`` features or only ``own`` ones as node inputs."""

    sage: SAGEConfig = field(default_factory=SAGEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    trees: TreeConfig = field(default_factory=TreeConfig)
    weighting: EdgeWeighting = "gmv"
    gnn_inputs: Literal["own", "all"] = "all"
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def to_dict(self) -> dict[str, object]:
        return {
            "pretrain": asdict(self.pretrain),
            "sage": self.sage.to_dict(),
            "train": asdict(self.train),
            "trees": asdict(self.trees),
            "weighting": self.weighting,
            "gnn_inputs": self.gnn_inputs,
        }


@dataclass(frozen=True)
class SelectionConfig:
    """How the champion is chosen. ``folds``: cross-validation folds inside the training
    rows (>= 2; each fold's GraphSAGE is a member of the final bag); ``stopping_fraction``:
    share of each fold's fitting rows kept for early stopping; ``champion``: ``auto`` or a
    model to force; ``calibration``: ``auto``, ``isotonic`` or ``platt``."""

    folds: int = 5
    stopping_fraction: float = 0.2
    models: tuple[str, ...] = MODELS
    champion: str = "auto"
    calibration: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in (*self.models, self.champion) if m not in (*MODELS, "auto")]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}: use auto or one of {list(MODELS)}")
        if "hybrid" in self.models and "graphsage" not in self.models:
            raise ValueError("the hybrid stacks GraphSAGE: keep 'graphsage' in models")
        if self.folds < 2:
            raise ValueError("folds must be at least 2: the champion is chosen out of fold")
        if self.champion != "auto" and self.champion not in self.models:
            raise ValueError(f"champion {self.champion!r} is not among models {self.models}")


@dataclass
class TrainingTable:
    """What a selection learns from: labelled ``rows`` (positions in ``graph``), a ``group``
    per row (rows of one business share it), and raw feature matrices for *every* node of
    the graph: ``matrices["own"] [N, F_own]``, ``matrices["all"] [N, F_all]``."""

    graph: GraphData
    rows: np.ndarray
    groups: np.ndarray
    matrices: dict[str, np.ndarray]
    columns: dict[str, list[str]]
    scaler: FeatureScaler
    #: GraphSAGE's pre-training target per node ``[N]`` (NaN where none; :mod:`gnn.pretrain`).
    pretrain_target: np.ndarray | None = None

    @property
    def y(self) -> np.ndarray:
        """0/1 labels of ``rows``."""
        return self.graph.data.y.numpy()[self.rows].astype(int)


@dataclass
class Selection:
    """The fitted models of one run, their out-of-fold evidence and the one champion.

    ``oof[model] [len(rows)]``: out-of-fold probability of every training row;
    ``fold_auc[model]``: held-out AUC per fold; ``sage``: the GraphSAGE bag (one member per
    fold); ``stacked_logit [N]``: what the hybrid was fitted on (out-of-fold on ``rows``).
    """

    champion: str
    models: tuple[str, ...]
    oof: dict[str, np.ndarray]
    fold_auc: dict[str, list[float]]
    trees: dict[str, TreeModel]
    sage: list[TrainedSAGE]
    stacked_logit: np.ndarray | None
    calibrator: Calibrator
    calibration_method: Method
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    fold_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    rounds: dict[str, int] = field(default_factory=dict)

    @property
    def cv_auc(self) -> dict[str, float]:
        """Mean held-out AUC per model: the figure the champion was chosen on."""
        return {m: float(np.nanmean(v)) for m, v in self.fold_auc.items()}

    def with_champion(self, champion: str) -> Selection:
        """This selection with ``champion`` (e.g. the run's choice over several seeds), its
        calibration refitted on that model's out-of-fold predictions."""
        if champion == self.champion:
            return self
        if champion not in self.models:
            raise ValueError(f"{champion!r} was not fitted: choose one of {self.models}")
        labels = self.labels
        method = self.calibration_method
        return replace(
            self, champion=champion, calibrator=fit_calibrator(self.oof[champion], labels, method)
        )

    def cross_calibrated_oof(self) -> np.ndarray:
        """The champion's out-of-fold probabilities calibrated fold by fold: each fold's rows
        through a calibration fitted on the other folds only, so calibration metrics quoted
        from them are not fitted on the rows they measure. ``[len(rows)]``."""
        raw = self.oof[self.champion]
        out = np.empty_like(raw)
        for fold in np.unique(self.fold_of):
            held = self.fold_of == fold
            others = ~held
            if len(np.unique(self.labels[others])) < 2:
                out[held] = self.calibrator(raw[held])
                continue
            calibrator = fit_calibrator(raw[others], self.labels[others], self.calibration_method)
            out[held] = calibrator(raw[held])
        return out

    def sage_logit(self, graph: GraphData) -> np.ndarray:
        """The bag's mean logit ``[N]`` on ``graph`` (members clipped as when stacked)."""
        logits = [_logit(member.predict_proba(graph)) for member in self.sage]
        return np.mean(logits, axis=0)

    def predict_proba(
        self, model: str, graph: GraphData, matrices: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Uncalibrated probability ``[N]`` of ``model`` for every node of ``graph``;
        ``matrices`` are the raw feature matrices of that graph's nodes."""
        if model == "graphsage":
            return _sigmoid(self.sage_logit(graph))
        if model == "hybrid":
            stack = np.hstack([matrices["all"], self.sage_logit(graph)[:, None]])
            return self.trees[model].predict_proba(stack)
        return self.trees[model].predict_proba(matrices[TREE_INPUTS[model]])


def training_table(
    graph: GraphData,
    features: pd.DataFrame,
    *,
    own: list[str],
    counterparty: list[str],
    scaler: FeatureScaler,
    rows: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    pretrain_target: np.ndarray | None = None,
) -> TrainingTable:
    """A :class:`TrainingTable` over ``graph``: ``features`` is indexed by business id;
    ``rows`` default to every labelled node, ``groups`` to each row's business id."""
    rows = graph.labelled if rows is None else np.asarray(rows)
    groups = np.asarray(graph.business_ids[rows]) if groups is None else np.asarray(groups)
    return TrainingTable(
        graph=graph,
        rows=rows,
        groups=groups,
        matrices=feature_matrices(graph, features, own, counterparty),
        columns={"own": list(own), "all": [*own, *counterparty]},
        scaler=scaler,
        pretrain_target=pretrain_target,
    )


def feature_matrices(
    graph: GraphData, features: pd.DataFrame, own: list[str], counterparty: list[str]
) -> dict[str, np.ndarray]:
    """Raw feature matrices in ``graph``'s node order: ``own [N, F_own]``, ``all [N, F]``."""
    aligned = features.reindex(graph.business_ids)
    return {
        "own": aligned[own].to_numpy(np.float32),
        "all": aligned[[*own, *counterparty]].to_numpy(np.float32),
    }


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))


def _logit(prob: np.ndarray) -> np.ndarray:
    clipped = np.clip(prob, 1e-6, 1.0 - 1e-6)
    return np.log(clipped / (1.0 - clipped))


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds with every group on one side: ``[(fit, held), ...]`` index arrays.

    Fewer folds than asked when a class has fewer groups than folds; at least 2.
    """
    y = np.asarray(y).astype(int)
    per_class = [len(np.unique(groups[y == c])) for c in (0, 1)]
    k = min(n_folds, *per_class)
    if k < 2:
        raise TrainingDataError(
            f"{per_class[1]} positive and {per_class[0]} negative businesses in the training "
            "rows: train at a score date with more labelled outcomes (at least 2 of each)"
        )
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(fit, held) for fit, held in splitter.split(np.zeros(len(y)), y, groups)]


def _stopping_split(
    y: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, stop) index arrays: a grouped, stratified ``fraction`` kept for early stopping."""
    parts = max(2, round(1.0 / fraction))
    fit, stop = grouped_folds(y, groups, parts, seed + 7919)[0]
    return fit, stop


def _fit_fold(
    table: TrainingTable,
    fit: np.ndarray,
    held: np.ndarray,
    fold: int,
    models: tuple[str, ...],
    config: ModelConfig,
    selection: SelectionConfig,
) -> tuple[dict[str, np.ndarray], dict[str, int], TrainedSAGE | None, np.ndarray, np.ndarray]:
    """Fit the non-hybrid models of one fold; return held-out probabilities, tree rounds,
    the fold's GraphSAGE (or None), and the (fitting, stopping) rows."""
    y, rows, seed = table.y, table.rows, selection.seed
    inner, stop = _stopping_split(y[fit], table.groups[fit], selection.stopping_fraction, seed)
    fit_rows, stop_rows = rows[fit[inner]], rows[fit[stop]]
    fit_y, stop_y = y[fit[inner]], y[fit[stop]]
    held_prob: dict[str, np.ndarray] = {}
    rounds: dict[str, int] = {}
    for name in ("trees_own", "trees_own_cp"):
        if name not in models:
            continue
        matrix, columns = table.matrices[TREE_INPUTS[name]], table.columns[TREE_INPUTS[name]]
        trees = fit_trees(
            matrix[fit_rows], fit_y, matrix[stop_rows], stop_y, columns, seed, config.trees
        )
        held_prob[name] = trees.predict_proba(matrix[rows[held]])
        rounds[name] = trees.best_iteration
    sage = None
    if "graphsage" in models:
        sage = train_sage(
            table.graph, fit_rows, stop_rows, table.scaler, config.sage, config.train,
            config.weighting, seed * 1000 + fold,
            _pretraining(table, table.groups[held], table.groups[fit[stop]], config.pretrain),
        )  # fmt: skip
    return held_prob, rounds, sage, fit_rows, stop_rows


def _pretraining(
    table: TrainingTable, held: np.ndarray, stopping: np.ndarray, config: PretrainConfig
) -> PretrainTask | None:
    """The fold's pre-training: every node with a target whose business chooses nothing
    (neither held out nor early-stopping)."""
    if table.pretrain_target is None or not config.enabled:
        return None
    businesses, _ = untag(table.graph)
    excluded = np.union1d(held.astype(str), stopping.astype(str))
    mask = pretraining_mask(table.pretrain_target, businesses, excluded)
    return PretrainTask(table.pretrain_target, mask, config)


def _hybrid_folds(
    table: TrainingTable,
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    stacked_logit: np.ndarray,
    config: ModelConfig,
    seed: int,
) -> tuple[np.ndarray, list[int]]:
    """Held-out hybrid probabilities for every row, and each fold's stopping round."""
    stack = np.hstack([table.matrices["all"], stacked_logit[:, None]])
    columns = [*table.columns["all"], "graphsage_logit"]
    labels = table.graph.data.y.numpy()
    oof = np.full(len(table.rows), np.nan)
    rounds = []
    for held, fit_rows, stop_rows, held_rows in folds:
        trees = fit_trees(
            stack[fit_rows], labels[fit_rows], stack[stop_rows], labels[stop_rows], columns,
            seed, config.trees,
        )  # fmt: skip
        oof[held] = trees.predict_proba(stack[held_rows])
        rounds.append(trees.best_iteration)
    return oof, rounds


def _choose(config: SelectionConfig, fold_auc: dict[str, list[float]]) -> str:
    if config.champion != "auto":
        return config.champion
    means = {m: float(np.nanmean(v)) if np.isfinite(v).any() else -1.0 for m, v in fold_auc.items()}
    return max(config.models, key=lambda m: means[m])


def calibration_method(method: str, positives: int) -> Method:
    """``auto`` -> isotonic from ``ISOTONIC_MIN_DEFAULTS`` positives, Platt below: isotonic on
    a few dozen defaults is a staircase of a handful of PDs, which bunches the grades."""
    if method == "auto":
        return "isotonic" if positives >= ISOTONIC_MIN_DEFAULTS else "platt"
    if method not in ("isotonic", "platt"):
        raise ValueError(f"calibration must be auto, isotonic or platt, not {method!r}")
    return "isotonic" if method == "isotonic" else "platt"


def fit_and_select(
    table: TrainingTable,
    *,
    config: SelectionConfig = SelectionConfig(),
    models: ModelConfig = ModelConfig(),
    progress: Say | None = None,
) -> Selection:
    """Fit every model of ``config.models`` out of fold, choose the champion, calibrate it
    on its out-of-fold predictions and refit the final models (see the module docstring)."""
    say = progress or (lambda _m: None)
    y, rows, chosen = table.y, table.rows, config.models
    folds = grouped_folds(y, table.groups, config.folds, config.seed)
    oof = {m: np.full(len(rows), np.nan) for m in chosen}
    fold_auc: dict[str, list[float]] = {m: [] for m in chosen}
    rounds: dict[str, list[int]] = {m: [] for m in chosen}
    members: list[TrainedSAGE] = []
    bag_logit = np.zeros(table.graph.data.num_nodes)
    stacked = np.full(table.graph.data.num_nodes, np.nan)
    fold_rows = []
    for k, (fit, held) in enumerate(folds):
        say(f"fold {k + 1}/{len(folds)}: fitting {', '.join(m for m in chosen if m != 'hybrid')}")
        held_prob, fold_rounds, sage, fit_rows, stop_rows = _fit_fold(
            table, fit, held, k, chosen, models, config
        )
        for name, prob in held_prob.items():
            oof[name][held] = prob
        for name, n in fold_rounds.items():
            rounds[name].append(n)
        if sage is not None:
            logit = _logit(sage.predict_proba(table.graph))
            oof["graphsage"][held] = _sigmoid(logit[rows[held]])
            members.append(sage)
            bag_logit += logit / len(folds)
            stacked[rows[held]] = logit[rows[held]]
        fold_rows.append((held, fit_rows, stop_rows, rows[held]))
    stacked_logit = None
    if "hybrid" in chosen:
        say("fitting the hybrid on out-of-fold GraphSAGE logits")
        stacked_logit = np.where(np.isnan(stacked), bag_logit, stacked)
        oof["hybrid"], rounds["hybrid"] = _hybrid_folds(
            table, fold_rows, stacked_logit, models, config.seed
        )
    for name in chosen:
        fold_auc[name] = [all_metrics(y[held], oof[name][held])["auc"] for _, held in folds]
    champion = _choose(config, fold_auc)
    method = calibration_method(config.calibration, int(y.sum()))
    calibrator = fit_calibrator(oof[champion], y, method)
    say(f"champion {MODEL_LABELS[champion]}; refitting the tree models on all rows")
    final = _refit(table, rounds, stacked_logit, models, config.seed)
    logger.info("champion %s; mean held-out AUC %s", champion, fold_auc)
    return Selection(
        champion=champion,
        models=chosen,
        oof=oof,
        fold_auc=fold_auc,
        trees=final,
        sage=members,
        stacked_logit=stacked_logit,
        calibrator=calibrator,
        calibration_method=method,
        labels=y,
        fold_of=_fold_ids(folds, len(rows)),
        rounds={m: round(float(np.mean(r))) for m, r in rounds.items() if r},
    )


def _fold_ids(folds: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    fold_of = np.full(n, -1, dtype=int)
    for k, (_, held) in enumerate(folds):
        fold_of[held] = k
    return fold_of


def _refit(
    table: TrainingTable,
    rounds: dict[str, list[int]],
    stacked_logit: np.ndarray | None,
    config: ModelConfig,
    seed: int,
) -> dict[str, TreeModel]:
    """Every tree model refitted on all rows for the mean of its folds' stopping rounds."""
    rows, y = table.rows, table.y
    out: dict[str, TreeModel] = {}
    for name, fold_rounds in rounds.items():
        if name == "graphsage" or not fold_rounds:
            continue
        matrix, columns = table.matrices[TREE_INPUTS[name]], table.columns[TREE_INPUTS[name]]
        if name == "hybrid":
            assert stacked_logit is not None
            matrix = np.hstack([matrix, stacked_logit[:, None]])
            columns = [*columns, "graphsage_logit"]
        n_rounds = round(float(np.mean(fold_rounds)))
        out[name] = refit_trees(
            matrix[rows], y, columns, rounds=n_rounds, seed=seed, config=config.trees
        )
    return out
