"""One-run comparison of the tree baselines, GraphSAGE and the hybrid, over several seeds.

Models: (a) ``trees_own`` LightGBM on own features; (b) ``trees_own_cp`` LightGBM on own plus
counterparty aggregates; (c) ``graphsage``: a bag of ``gnn_bags`` GraphSAGE models, each
trained on all but one stratified part of the training rows, averaged in logit space;
(d) ``hybrid``: LightGBM on own + counterparty features plus the GraphSAGE logit, stacked with
cross-fitting (a training row gets the logit of the bag member that never saw its label, so the
tree learns how far to trust the GNN from honest out-of-fold scores; validation and test rows
get the bag's mean). Splits:

* ``temporal`` — train on the labelled cohort of the ``train`` frames (as of D1), test on the
  labelled cohort of the ``test`` frames (as of D2); the model scores D2's graph inductively;
* ``given`` — one snapshot whose outcomes carry a ``split`` column (``train``/``test``);
* ``cv`` — stratified k-fold on one snapshot's labels (fold ``i`` for seed ``i``).

Validation rows (20%, stratified, per seed) are always drawn from the training rows; the
champion is the model with the best mean validation AUC, never chosen on the test rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from gnn.baselines import TreeConfig, fit_trees
from gnn.data import EdgeWeighting, FeatureScaler, Frames, GraphData, build_graph
from gnn.metrics import METRIC_NAMES, all_metrics
from gnn.model import SAGEConfig
from gnn.train import TrainConfig, TrainedSAGE, peak_rss_mib, train_sage

Split = Literal["temporal", "given", "cv"]
MODELS: tuple[str, ...] = ("trees_own", "trees_own_cp", "graphsage", "hybrid")
MODEL_LABELS: dict[str, str] = {
    "trees_own": "(a) LightGBM own",
    "trees_own_cp": "(b) LightGBM own+counterparty",
    "graphsage": "(c) GraphSAGE",
    "hybrid": "(d) GraphSAGE logit + LightGBM",
}
FeatureFn = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class FeatureSet:
    """The feature function and which of its columns are own vs counterparty aggregates."""

    compute: FeatureFn
    own: list[str]
    counterparty: list[str]

    @classmethod
    def default(cls) -> FeatureSet:
        """``loaders.features.compute_features`` with its OWN/COUNTERPARTY lists."""
        from loaders import features

        return cls(
            compute=features.compute_features,
            own=list(features.OWN_FEATURES),
            counterparty=list(features.COUNTERPARTY_FEATURES),
        )

    def frame(
        self, frames: Frames, as_of: pd.Timestamp, drop: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """Features of every business in ``frames`` as of ``as_of``, without ``drop`` columns."""
        out = self.compute(frames.businesses, frames.orders, as_of, identifiers=frames.identifiers)
        return out.drop(columns=[c for c in drop if c in out.columns])


@dataclass
class EvaluationResult:
    """Per-seed test metrics (``runs``) and their summary (``table``: mean and std)."""

    target: str
    split: str
    train_as_of: str
    test_as_of: str
    seeds: int
    runs: pd.DataFrame
    validation_auc: dict[str, float]
    champion: str
    counts: dict[str, int]
    peak_rss_mib: float
    seconds: float
    warnings: list[str] = field(default_factory=list)
    configs: dict[str, object] = field(default_factory=dict)
    #: First seed's test predictions, one row per (model, test business): ``model, y_true, pd``
    #: — what the report draws ROC, PR, KS and calibration curves from.
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["model", "y_true", "pd"])
    )

    @property
    def table(self) -> pd.DataFrame:
        """Rows (model, slice); columns ``<metric>_mean`` and ``<metric>_std`` over seeds."""
        grouped = self.runs.groupby(["model", "slice"], sort=False)[list(METRIC_NAMES)]
        mean = grouped.mean().add_suffix("_mean")
        std = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
        return mean.join(std).reset_index()

    def metric(self, model: str, slice_: str = "all", name: str = "auc") -> tuple[float, float]:
        """(mean, std) of one metric."""
        row = self.table.query("model == @model and slice == @slice_")
        if row.empty:
            return math.nan, math.nan
        return float(row[f"{name}_mean"].iloc[0]), float(row[f"{name}_std"].iloc[0])

    def to_json(self) -> str:
        """Everything, JSON (NaN written as null)."""
        table = self.table.replace({np.nan: None}).to_dict(orient="records")
        runs = self.runs.replace({np.nan: None}).to_dict(orient="records")
        payload = {
            "target": self.target,
            "split": self.split,
            "train_as_of": self.train_as_of,
            "test_as_of": self.test_as_of,
            "seeds": self.seeds,
            "champion": self.champion,
            "validation_auc": self.validation_auc,
            "counts": self.counts,
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "seconds": round(self.seconds, 1),
            "warnings": self.warnings,
            "configs": self.configs,
            "table": table,
            "runs": runs,
            "predictions": self.predictions.to_dict(orient="records"),
        }
        return json.dumps(payload, indent=2, default=str)


@dataclass
class Fold:
    """Row positions of one seed's train/val rows (training graph) and test rows (test graph)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _labelled_ids(frames: Frames, target: str, as_of: pd.Timestamp) -> pd.DataFrame:
    outcomes = frames.outcomes
    if target not in outcomes.columns:
        raise KeyError(f"outcomes have no {target!r} column: use --target defaulted or fraud")
    if "as_of" in outcomes.columns:
        outcomes = outcomes[outcomes["as_of"] == as_of]
    return outcomes[outcomes[target].notna()]


def _infer_as_of(frames: Frames) -> pd.Timestamp:
    as_of = getattr(frames, "as_of", None)
    if as_of is not None:
        return pd.Timestamp(as_of)
    dates = frames.outcomes["as_of"].dropna().unique()
    if len(dates) != 1:
        raise ValueError("pass as_of explicitly: the outcomes hold several (or no) score dates")
    return pd.Timestamp(dates[0])


def _split_val(positions: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    stratify = labels if min(np.bincount(labels.astype(int), minlength=2)) >= 2 else None
    train, val = train_test_split(positions, test_size=0.2, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def split_folds(
    split: Split, train_graph: GraphData, test_graph: GraphData, train_frames: Frames, seeds: int
) -> list[Fold]:
    """One :class:`Fold` per seed: ``temporal`` and ``given`` keep one test set and redraw the
    validation rows; ``cv`` makes ``seeds`` stratified folds of the labelled rows."""
    y_train = train_graph.data.y.numpy()
    labelled = train_graph.labelled
    if split == "temporal":
        test = test_graph.labelled
        return [Fold(*_split_val(labelled, y_train[labelled], s), test) for s in range(seeds)]
    if split == "given":
        outcomes = train_frames.outcomes
        if "split" not in outcomes.columns:
            raise KeyError("--split given needs a 'split' column (train/test) in the outcomes")
        marks = outcomes.set_index(outcomes["business_id"].astype(str))["split"]
        marks = marks[~marks.index.duplicated()].reindex(train_graph.business_ids[labelled])
        train_pos = labelled[(marks == "train").to_numpy()]
        test_pos = labelled[(marks == "test").to_numpy()]
        return [Fold(*_split_val(train_pos, y_train[train_pos], s), test_pos) for s in range(seeds)]
    if split == "cv":
        k = max(seeds, 2)
        kfold = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
        folds = []
        for s, (tr, te) in enumerate(kfold.split(labelled, y_train[labelled])):
            if s >= seeds:
                break
            train_pos = labelled[tr]
            folds.append(Fold(*_split_val(train_pos, y_train[train_pos], s), labelled[te]))
        return folds
    raise ValueError(f"unknown split {split!r}: use temporal, given or cv")


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))


def _logit(prob: np.ndarray) -> np.ndarray:
    clipped = np.clip(prob, 1e-6, 1.0 - 1e-6)
    return np.log(clipped / (1.0 - clipped))


@dataclass
class SageBag:
    """Cross-fitted GraphSAGE models of one seed and their logits.

    ``train_logit [N_train]``: mean logit of the bag on the training graph; ``stacked_logit``:
    the same except on ``fold.train`` rows, which hold the out-of-fold logit of the one member
    that did not train on them; ``test_logit [N_test]``: mean logit on the test graph (the
    training graph when there is none).
    """

    models: list[TrainedSAGE]
    train_logit: np.ndarray
    stacked_logit: np.ndarray
    test_logit: np.ndarray


def cross_fitted_sage(
    train_graph: GraphData,
    test_graph: GraphData | None,
    fold: Fold,
    scaler: FeatureScaler,
    bags: int = 4,
    seed: int = 0,
    sage_config: SAGEConfig = SAGEConfig(),
    train_config: TrainConfig = TrainConfig(),
    weighting: EdgeWeighting = "gmv",
) -> SageBag:
    """Train ``bags`` GraphSAGE models, member ``j`` on ``fold.train`` minus its ``j``-th
    stratified part, all stopping early on ``fold.val``. Averaging cuts the seed variance of a
    small labelled set; the held-out parts give leakage-free logits for stacking."""
    y = train_graph.data.y.numpy()
    labels = y[fold.train].astype(int)
    n_splits = min(bags, int(min(np.bincount(labels, minlength=2)))) if len(labels) else 0
    if n_splits < 2:
        raise ValueError("too few labelled training rows of each class to cross-fit GraphSAGE")
    parts = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    models: list[TrainedSAGE] = []
    train_logit = np.zeros(train_graph.data.num_nodes)
    scored = test_graph if test_graph is not None else train_graph
    test_logit = np.zeros(scored.data.num_nodes)
    out_of_fold = np.full(train_graph.data.num_nodes, np.nan)
    for member, (kept, held) in enumerate(parts.split(fold.train, labels)):
        sage = train_sage(
            train_graph,
            fold.train[kept],
            fold.val,
            scaler,
            sage_config,
            train_config,
            weighting,
            seed * 1000 + member,
        )
        logit = _logit(sage.predict_proba(train_graph))
        out_of_fold[fold.train[held]] = logit[fold.train[held]]
        train_logit += logit / n_splits
        test_logit += (
            _logit(sage.predict_proba(test_graph)) if test_graph is not None else logit
        ) / n_splits
        models.append(sage)
    stacked = np.where(np.isnan(out_of_fold), train_logit, out_of_fold)
    return SageBag(models, train_logit, stacked, test_logit)


def evaluate(
    train: Frames,
    test: Frames | None,
    target: str = "defaulted",
    split: Split = "temporal",
    seeds: int = 5,
    train_as_of: pd.Timestamp | None = None,
    test_as_of: pd.Timestamp | None = None,
    feature_set: FeatureSet | None = None,
    drop_features: tuple[str, ...] = (),
    sage_config: SAGEConfig = SAGEConfig(),
    train_config: TrainConfig = TrainConfig(),
    tree_config: TreeConfig = TreeConfig(),
    weighting: EdgeWeighting = "gmv",
    gnn_inputs: Literal["own", "all"] = "all",
    gnn_bags: int = 4,
    horizon_days: int = 365,
    progress: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Train and test all four models ``seeds`` times; see the module docstring for splits.

    ``test`` is needed for ``temporal`` only (``given`` and ``cv`` use ``train``).
    ``drop_features`` removes columns before any model sees them (e.g. leaky ones).
    ``gnn_bags`` (>= 2) is the number of cross-fitted GraphSAGE models per seed.
    """
    import time

    if gnn_bags < 2:
        raise ValueError("gnn_bags must be at least 2: the hybrid needs out-of-fold GNN logits")
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    features = feature_set or FeatureSet.default()
    if split == "temporal" and test is None:
        raise ValueError("--split temporal needs test frames as of a later date (--test-as-of)")
    test_frames = test if split == "temporal" and test is not None else train
    d1 = pd.Timestamp(train_as_of) if train_as_of is not None else _infer_as_of(train)
    d2 = pd.Timestamp(test_as_of) if test_as_of is not None else _infer_as_of(test_frames)
    if split != "temporal":
        d2 = d1
    warnings: list[str] = []
    if split == "temporal" and d2 < d1 + pd.Timedelta(days=horizon_days):
        warnings.append(
            f"test date {d2.date()} is less than the {horizon_days}-day horizon after the "
            f"training date {d1.date()}: training labels would not yet be mature at {d2.date()}"
        )

    say("computing point-in-time features")
    own = [c for c in features.own if c not in drop_features]
    counterparty = [c for c in features.counterparty if c not in drop_features]
    all_columns = own + counterparty
    train_features = features.frame(train, d1, drop_features)
    test_features = (
        features.frame(test_frames, d2, drop_features) if split == "temporal" else train_features
    )
    gnn_columns = own if gnn_inputs == "own" else all_columns
    scaler = FeatureScaler(gnn_columns).fit(train_features)

    say("building graphs")
    train_graph = build_graph(train, train_features, scaler, d1, target, weighting)
    test_graph = (
        build_graph(test_frames, test_features, scaler, d2, target, weighting)
        if split == "temporal"
        else train_graph
    )
    folds = split_folds(split, train_graph, test_graph, train, seeds)
    if not len(folds) or not len(folds[0].test):
        raise ValueError(f"no labelled {target!r} rows to test on: check the outcomes frames")

    train_raw = {
        "own": train_features.reindex(train_graph.business_ids)[own].to_numpy(np.float32),
        "all": train_features.reindex(train_graph.business_ids)[all_columns].to_numpy(np.float32),
    }
    test_raw = {
        "own": test_features.reindex(test_graph.business_ids)[own].to_numpy(np.float32),
        "all": test_features.reindex(test_graph.business_ids)[all_columns].to_numpy(np.float32),
    }
    y_train = train_graph.data.y.numpy()
    y_test = test_graph.data.y.numpy()
    thin_test = test_graph.data.thin.numpy()

    rows: list[dict[str, object]] = []
    first_seed_predictions: list[pd.DataFrame] = []
    val_scores: dict[str, list[float]] = {m: [] for m in MODELS}
    for seed, fold in enumerate(folds):
        predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, key in (("trees_own", "own"), ("trees_own_cp", "all")):
            say(f"seed {seed}: {MODEL_LABELS[name]}")
            trees = fit_trees(
                train_raw[key][fold.train],
                y_train[fold.train],
                train_raw[key][fold.val],
                y_train[fold.val],
                own if key == "own" else all_columns,
                seed,
                tree_config,
            )
            predictions[name] = (
                trees.predict_proba(train_raw[key][fold.val]),
                trees.predict_proba(test_raw[key][fold.test]),
            )
        say(f"seed {seed}: {MODEL_LABELS['graphsage']} x{gnn_bags}")
        bag = cross_fitted_sage(
            train_graph,
            test_graph if split == "temporal" else None,
            fold,
            scaler,
            gnn_bags,
            seed,
            sage_config,
            train_config,
            weighting,
        )
        predictions["graphsage"] = (
            _sigmoid(bag.train_logit[fold.val]),
            _sigmoid(bag.test_logit[fold.test]),
        )

        say(f"seed {seed}: {MODEL_LABELS['hybrid']}")
        train_stack = np.hstack([train_raw["all"], bag.stacked_logit[:, None]])
        test_stack = np.hstack([test_raw["all"], bag.test_logit[:, None]])
        hybrid = fit_trees(
            train_stack[fold.train],
            y_train[fold.train],
            train_stack[fold.val],
            y_train[fold.val],
            [*all_columns, "graphsage_logit"],
            seed,
            tree_config,
        )
        predictions["hybrid"] = (
            hybrid.predict_proba(train_stack[fold.val]),
            hybrid.predict_proba(test_stack[fold.test]),
        )

        for name, (val_prob, test_prob_m) in predictions.items():
            val_scores[name].append(all_metrics(y_train[fold.val], val_prob)["auc"])
            thin = thin_test[fold.test]
            for slice_name, mask in (("all", np.ones_like(thin)), ("thin", thin)):
                metrics = all_metrics(y_test[fold.test][mask], test_prob_m[mask])
                rows.append({"model": name, "slice": slice_name, "seed": seed, **metrics})
            if seed == 0:
                first_seed_predictions.append(
                    pd.DataFrame({"model": name, "y_true": y_test[fold.test], "pd": test_prob_m})
                )

    validation = {m: float(np.nanmean(v)) for m, v in val_scores.items()}
    champion = max(
        validation, key=lambda m: -math.inf if math.isnan(validation[m]) else validation[m]
    )
    first = folds[0]
    counts = {
        "nodes_train_graph": int(train_graph.data.num_nodes),
        "edges_train_graph": int(train_graph.data.edge_index.shape[1]),
        "nodes_test_graph": int(test_graph.data.num_nodes),
        "train_rows": len(first.train),
        "val_rows": len(first.val),
        "test_rows": len(first.test),
        "test_positives": int(y_test[first.test].sum()),
        "test_thin_rows": int(thin_test[first.test].sum()),
        "test_thin_positives": int(y_test[first.test][thin_test[first.test]].sum()),
    }
    return EvaluationResult(
        target=target,
        split=split,
        train_as_of=str(d1.date()),
        test_as_of=str(d2.date()),
        seeds=len(folds),
        runs=pd.DataFrame(rows),
        validation_auc=validation,
        champion=champion,
        counts=counts,
        peak_rss_mib=peak_rss_mib(),
        seconds=time.perf_counter() - started,
        warnings=warnings,
        predictions=pd.concat(first_seed_predictions, ignore_index=True),
        configs={
            "sage": sage_config.to_dict(),
            "weighting": weighting,
            "gnn_inputs": gnn_inputs,
            "gnn_bags": gnn_bags,
            "dropped_features": list(drop_features),
        },
    )


def format_table(result: EvaluationResult, metrics: tuple[str, ...] = METRIC_NAMES) -> str:
    """Plain-text table: one line per (model, slice), ``mean ± std`` per metric."""
    table = result.table
    header = f"{'model':<32} {'slice':<5} " + " ".join(f"{m:>15}" for m in metrics)
    lines = [header, "-" * len(header)]
    for _, row in table.iterrows():
        cells = " ".join(f"{row[f'{m}_mean']:>7.3f} ± {row[f'{m}_std']:.3f}" for m in metrics)
        mark = "*" if row["model"] == result.champion else " "
        lines.append(f"{mark}{MODEL_LABELS[row['model']]:<31} {row['slice']:<5} {cells}")
    lines.append(
        f"champion (best mean validation AUC): {MODEL_LABELS[result.champion]}  "
        + ", ".join(f"{m}={v:.3f}" for m, v in result.validation_auc.items())
    )
    return "\n".join(lines)
