"""Champion against baselines on data the models never saw, with honest uncertainty.

For each seed the training rows go through :func:`gnn.selection.fit_and_select` (the one
fit-and-select routine ``train`` also uses: cross-validation inside the training rows chooses
the champion, out-of-fold predictions calibrate it), then every model scores the test rows.
Splits:

* ``temporal`` — train on the labelled cohort of the ``train`` frames (as of D1), test on the
  labelled cohort of the ``test`` frames (as of D2); the models score D2's graph inductively.
  D2 must be at least the label horizon after D1 (a cohort's labels are known only then);
  ``allow_immature`` lets an earlier D2 through with a warning.
* ``given`` — one snapshot whose outcomes carry a ``split`` column (``train``/``test``);
* ``cv`` — stratified folds of one snapshot's labels, grouped by business (fold ``i`` is the
  test set of seed ``i``).

Test uncertainty comes from a paired bootstrap over test businesses (``gnn.bootstrap``): every
model's AUC and AUPRC get a 95% interval, and every model's lead over the reference (b) a
paired interval. ``mean ± std`` over seeds is training randomness only and is shown beside it.
The run's one champion is the model with the best mean cross-validated AUC over seeds.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from gnn.bootstrap import DEFAULT_REPLICATES, Interval, paired_bootstrap
from gnn.cohorts import stack_cohorts
from gnn.data import FeatureScaler, Frames, GraphData, build_graph
from gnn.metrics import METRIC_NAMES, all_metrics
from gnn.pretrain import targets_for
from gnn.selection import (
    MODEL_LABELS,
    MODELS,
    ModelConfig,
    Selection,
    SelectionConfig,
    TrainingTable,
    feature_matrices,
    fit_and_select,
    training_table,
)
from gnn.train import peak_rss_mib
from loaders.labels import require_mature

logger = logging.getLogger(__name__)

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "EvaluationConfig",
    "EvaluationResult",
    "FeatureSet",
    "evaluate",
    "format_table",
]

Split = Literal["temporal", "given", "cv"]
FeatureFn = Callable[..., pd.DataFrame]
#: The baseline every model's lead is measured against: trees on hand-made aggregates.
REFERENCE = "trees_own_cp"
#: Below this many positives a slice's metrics are reported but said to be unreadable.
READABLE_MIN_POSITIVES = 30


@dataclass(frozen=True)
class FeatureSet:
    """The feature function and which of its columns are own vs counterparty aggregates."""

    compute: FeatureFn
    own: list[str]
    counterparty: list[str]
    #: Keyword options passed to ``compute`` (e.g. ``counterparty_days``).
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def default(cls, **options: object) -> FeatureSet:
        """``loaders.features.compute_features`` with its OWN/COUNTERPARTY lists; ``options``
        go to it (``counterparty_days=4000`` for a history of many sparse years)."""
        from loaders import features

        return cls(
            compute=features.compute_features,
            own=list(features.OWN_FEATURES),
            counterparty=list(features.COUNTERPARTY_FEATURES),
            options=tuple(sorted(options.items())),
        )

    @property
    def is_default(self) -> bool:
        """Whether ``compute`` is ``loaders.features.compute_features``, which every engine
        runs."""
        from loaders import features

        return self.compute is features.compute_features

    def without(self, drop: tuple[str, ...]) -> FeatureSet:
        """The same set with ``drop`` columns hidden from every model."""
        return FeatureSet(
            compute=self.compute,
            own=[c for c in self.own if c not in drop],
            counterparty=[c for c in self.counterparty if c not in drop],
            options=self.options,
        )

    def frame(
        self, frames: Frames, as_of: pd.Timestamp, reference: object | None = None
    ) -> pd.DataFrame:
        """Features of every business in ``frames`` as of ``as_of`` (only this set's columns);
        ``reference``: population figures frozen at training
        (:class:`loaders.features.FeatureReference`), for scoring."""
        extra = {} if reference is None else {"reference": reference}
        own_engine = getattr(frames, "compute_features", None)
        if own_engine is not None and self.is_default and getattr(frames, "as_of", None) == as_of:
            # Frames from another engine (Spark) compute the same features where they live.
            return own_engine(as_of, **dict(self.options), **extra)[[*self.own, *self.counterparty]]
        out = self.compute(
            frames.businesses,
            frames.orders,
            as_of,
            identifiers=frames.identifiers,
            credit_events=getattr(frames, "credit_events", None),
            **dict(self.options),
            **extra,
        )
        return out[[*self.own, *self.counterparty]]


@dataclass(frozen=True)
class EvaluationConfig:
    """What one evaluation run does. ``seeds``: repeats of the whole fit-and-select (folds
    for ``cv``); ``horizon_days``: label horizon, for the maturity check; ``drop_features``:
    columns hidden from every model; ``replicates``: bootstrap replicates; ``train_dates``:
    earlier score dates whose cohorts are stacked with ``train_as_of``'s for training
    (``temporal`` only; see :mod:`gnn.cohorts`)."""

    target: str = "defaulted"
    split: Split = "temporal"
    seeds: int = 5
    train_as_of: pd.Timestamp | None = None
    test_as_of: pd.Timestamp | None = None
    horizon_days: int = 365
    allow_immature: bool = False
    drop_features: tuple[str, ...] = ()
    replicates: int = DEFAULT_REPLICATES
    train_dates: tuple[pd.Timestamp, ...] = ()
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    models: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if self.train_dates and self.split != "temporal":
            raise ValueError("stacked training cohorts (train_dates) need the temporal split")

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "split": self.split,
            "seeds": self.seeds,
            "horizon_days": self.horizon_days,
            "allow_immature": self.allow_immature,
            "dropped_features": list(self.drop_features),
            "replicates": self.replicates,
            "train_dates": [str(pd.Timestamp(d).date()) for d in self.train_dates],
            "selection": {
                "folds": self.selection.folds,
                "stopping_fraction": self.selection.stopping_fraction,
                "models": list(self.selection.models),
                "champion": self.selection.champion,
                "calibration": self.selection.calibration,
            },
            "models": self.models.to_dict(),
        }


@dataclass
class EvaluationResult:
    """Per-seed test metrics (``runs``), bootstrap ``intervals`` and the one ``champion``.

    ``cv_auc[model]``: mean cross-validated AUC inside the training rows over seeds, the
    figure the champion was chosen on; ``intervals[slice][model][metric]``: paired bootstrap
    intervals, with ``<metric>_minus_trees_own_cp`` for the lead over (b);
    ``predictions``: first seed's test predictions (``model, y_true, pd``) for the report's
    curves; ``selection``: the first seed's fitted models (not serialised), which ``train``
    can turn into an artefact without fitting again.
    """

    target: str
    split: str
    train_as_of: str
    test_as_of: str
    seeds: int
    runs: pd.DataFrame
    cv_auc: dict[str, float]
    champion: str
    counts: dict[str, int]
    peak_rss_mib: float
    seconds: float
    intervals: dict[str, dict[str, dict[str, Interval]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    configs: dict[str, object] = field(default_factory=dict)
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["model", "y_true", "pd"])
    )
    selection: Selection | None = None
    table_rows: TrainingTable | None = None

    @property
    def table(self) -> pd.DataFrame:
        """Rows (model, slice); columns ``<metric>_mean`` and ``<metric>_std`` over seeds."""
        grouped = self.runs.groupby(["model", "slice"], sort=False)[list(METRIC_NAMES)]
        mean = grouped.mean().add_suffix("_mean")
        std = grouped.std(ddof=1).fillna(0.0).add_suffix("_std")
        return mean.join(std).reset_index()

    def metric(self, model: str, slice_: str = "all", name: str = "auc") -> tuple[float, float]:
        """(mean, std) of one metric over seeds."""
        row = self.table.query("model == @model and slice == @slice_")
        if row.empty:
            return math.nan, math.nan
        return float(row[f"{name}_mean"].iloc[0]), float(row[f"{name}_std"].iloc[0])

    def interval(self, model: str, name: str = "auc", slice_: str = "all") -> Interval | None:
        """The bootstrap interval of ``name`` (e.g. ``auc_minus_trees_own_cp``), if any."""
        return self.intervals.get(slice_, {}).get(model, {}).get(name)

    def to_json(self) -> str:
        """Everything but the fitted models, JSON (NaN written as null)."""
        payload = {
            "target": self.target,
            "split": self.split,
            "train_as_of": self.train_as_of,
            "test_as_of": self.test_as_of,
            "seeds": self.seeds,
            "champion": self.champion,
            "champion_rule": "best mean cross-validated AUC inside the training rows",
            "cv_auc": self.cv_auc,
            "reference": REFERENCE,
            "intervals": {
                s: {m: {k: v.to_dict() for k, v in per.items()} for m, per in models.items()}
                for s, models in self.intervals.items()
            },
            "counts": self.counts,
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "seconds": round(self.seconds, 1),
            "warnings": self.warnings,
            "configs": self.configs,
            "table": self.table.to_dict(orient="records"),
            "runs": self.runs.to_dict(orient="records"),
            "predictions": self.predictions.to_dict(orient="records"),
        }
        return json.dumps(_finite(payload), indent=2, default=str)


def _finite(value: object) -> object:
    """``value`` with every NaN/inf float replaced by None, so the JSON is strict."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value


@dataclass
class Fold:
    """Row positions of one seed's training rows (training graph) and test rows (test
    graph; the training graph for ``given`` and ``cv``)."""

    train: np.ndarray
    test: np.ndarray


def _infer_as_of(frames: Frames) -> pd.Timestamp:
    as_of = getattr(frames, "as_of", None)
    if as_of is not None:
        return pd.Timestamp(as_of)
    dates = frames.outcomes["as_of"].dropna().unique()
    if len(dates) != 1:
        raise ValueError("pass train_as_of explicitly: the outcomes hold several score dates")
    return pd.Timestamp(dates[0])


def split_folds(
    split: Split, train_graph: GraphData, test_graph: GraphData, train_frames: Frames, seeds: int
) -> list[Fold]:
    """One :class:`Fold` per seed: ``temporal`` and ``given`` keep one train and test set
    (seeds vary fitting only); ``cv`` makes ``seeds`` stratified folds grouped by business."""
    y_train = train_graph.data.y.numpy()
    labelled = train_graph.labelled
    if split == "temporal":
        return [Fold(labelled, test_graph.labelled) for _ in range(seeds)]
    if split == "given":
        outcomes = train_frames.outcomes
        if "split" not in outcomes.columns:
            raise KeyError("--split given needs a 'split' column (train/test) in the outcomes")
        marks = outcomes.set_index(outcomes["business_id"].astype(str))["split"]
        marks = marks[~marks.index.duplicated()].reindex(train_graph.business_ids[labelled])
        train_pos = labelled[(marks == "train").to_numpy()]
        test_pos = labelled[(marks == "test").to_numpy()]
        return [Fold(train_pos, test_pos) for _ in range(seeds)]
    if split == "cv":
        k = max(seeds, 2)
        groups = np.asarray(train_graph.business_ids[labelled])
        outer = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=0)
        folds = outer.split(np.zeros(len(labelled)), y_train[labelled].astype(int), groups)
        return [Fold(labelled[tr], labelled[te]) for tr, te in list(folds)[:seeds]]
    raise ValueError(f"unknown split {split!r}: use temporal, given or cv")


def check_maturity(
    train_as_of: pd.Timestamp, used_at: pd.Timestamp, horizon_days: int, *, allow: bool
) -> str | None:
    """Refuse (:class:`gnn.errors.ImmatureLabelsError`) or, with ``allow``, warn about a
    training cohort whose labels were not yet known at ``used_at``; returns the warning."""
    maturity = require_mature(train_as_of, used_at, horizon_days=horizon_days, allow_immature=allow)
    if maturity.mature:
        return None
    return f"{maturity.message}: allowed by --allow-immature, so the result is optimistic"


@dataclass
class _Prepared:
    """Features, graphs and matrices of one evaluation, shared by every seed."""

    train_graph: GraphData
    test_graph: GraphData
    train_features: pd.DataFrame
    test_matrices: dict[str, np.ndarray]
    scaler: FeatureScaler
    features: FeatureSet
    groups: np.ndarray
    pretrain_target: np.ndarray | None = None


def _prepare(
    train: Frames | Mapping[pd.Timestamp, Frames],
    test: Frames,
    d1: pd.Timestamp,
    d2: pd.Timestamp,
    config: EvaluationConfig,
    features: FeatureSet,
) -> _Prepared:
    latest = train[d1] if isinstance(train, Mapping) else train
    train_features = features.frame(latest, d1)
    temporal = config.split == "temporal"
    test_features = features.frame(test, d2) if temporal else train_features
    gnn_columns = features.own if config.models.gnn_inputs == "own" else list(train_features)
    scaler = FeatureScaler(gnn_columns).fit(train_features)
    target, weighting = config.target, config.models.weighting
    if config.train_dates:
        dates = sorted({pd.Timestamp(d) for d in config.train_dates if pd.Timestamp(d) < d1})
        stacked = stack_cohorts(
            train, [*dates, d1], features.frame, scaler, target=target, weighting=weighting
        )
        train_graph, train_features = stacked.graph, stacked.features
        groups = stacked.groups
    else:
        train_graph = build_graph(latest, train_features, scaler, d1, target, weighting)
        groups = np.asarray(train_graph.business_ids.astype(str))
    test_graph = (
        build_graph(test, test_features, scaler, d2, target, weighting) if temporal else train_graph
    )
    matrices = feature_matrices(test_graph, test_features, features.own, features.counterparty)
    # Pre-training reads the trade change after each training date from the test frames
    # (orders before D2); a one-snapshot split has no later orders, so it has no target.
    pretrain_target = targets_for(
        train_graph, test if temporal else None, d2 if temporal else None, config.models.pretrain
    )
    return _Prepared(
        train_graph, test_graph, train_features, matrices, scaler, features, groups,
        pretrain_target,
    )  # fmt: skip


def _fit_seed(
    prep: _Prepared, fold: Fold, seed: int, config: EvaluationConfig, say: Callable[[str], None]
) -> tuple[Selection, TrainingTable, dict[str, np.ndarray]]:
    """One seed: fit and select on the fold's training rows, score its test rows."""
    table = training_table(
        prep.train_graph,
        prep.train_features,
        own=prep.features.own,
        counterparty=prep.features.counterparty,
        scaler=prep.scaler,
        rows=fold.train,
        groups=prep.groups[fold.train],
        pretrain_target=prep.pretrain_target,
    )
    selection = fit_and_select(
        table,
        config=replace(config.selection, seed=seed),
        models=config.models,
        progress=lambda message: say(f"seed {seed}: {message}"),
    )
    scores = {
        m: selection.predict_proba(m, prep.test_graph, prep.test_matrices)[fold.test]
        for m in selection.models
    }
    return selection, table, scores


def evaluate(
    train: Frames,
    test: Frames | None,
    config: EvaluationConfig = EvaluationConfig(),
    *,
    feature_set: FeatureSet | None = None,
    cohorts: Mapping[pd.Timestamp, Frames] | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Fit, select and test every model ``config.seeds`` times; see the module docstring.

    ``test`` is needed for ``temporal`` only (``given`` and ``cv`` use ``train``).
    ``cohorts`` holds a snapshot per date of ``config.train_dates`` (read as of that date);
    without it every stacked cohort is cut from ``train``, which must then hold the history.
    Raises :class:`gnn.errors.ImmatureLabelsError` for an immature temporal split.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    features = (feature_set or FeatureSet.default()).without(config.drop_features)
    if config.split == "temporal" and test is None:
        raise ValueError("--split temporal needs test frames as of a later date (--test-as-of)")
    test_frames = test if config.split == "temporal" and test is not None else train
    d1 = pd.Timestamp(config.train_as_of or _infer_as_of(train))
    d2 = d1
    warnings: list[str] = []
    if config.split == "temporal":
        d2 = pd.Timestamp(config.test_as_of or _infer_as_of(test_frames))
        warning = check_maturity(d1, d2, config.horizon_days, allow=config.allow_immature)
        warnings += [warning] if warning else []

    say("computing point-in-time features and graphs")
    history = {**(cohorts or {}), d1: train} if cohorts else train
    prep = _prepare(history, test_frames, d1, d2, config, features)
    folds = split_folds(config.split, prep.train_graph, prep.test_graph, train, config.seeds)
    if not folds or not len(folds[0].test):
        raise ValueError(f"no labelled {config.target!r} rows to test on: check the outcomes")

    y_test = prep.test_graph.data.y.numpy()
    thin_test = prep.test_graph.data.thin.numpy()
    seeds_out = [_fit_seed(prep, fold, seed, config, say) for seed, fold in enumerate(folds)]
    models = seeds_out[0][0].models
    cv_auc = {m: float(np.nanmean([s.cv_auc[m] for s, _, _ in seeds_out])) for m in models}
    champion = max(cv_auc, key=lambda m: -math.inf if math.isnan(cv_auc[m]) else cv_auc[m])
    if config.selection.champion != "auto":
        champion = config.selection.champion

    say("bootstrapping test intervals")
    intervals = _intervals(folds, seeds_out, y_test, thin_test, config)
    logger.info("evaluation (%s split, %d seeds): champion %s by cross-validated AUC %s",
                config.split, config.seeds, champion, cv_auc)  # fmt: skip
    return EvaluationResult(
        target=config.target,
        split=config.split,
        train_as_of=str(d1.date()),
        test_as_of=str(d2.date()),
        seeds=len(folds),
        runs=_runs(folds, seeds_out, y_test, thin_test),
        cv_auc=cv_auc,
        champion=champion,
        counts=_counts(prep, folds[0], y_test, thin_test),
        peak_rss_mib=peak_rss_mib(),
        seconds=time.perf_counter() - started,
        intervals=intervals,
        warnings=warnings + _slice_warnings(folds[0], y_test, thin_test),
        configs=config.to_dict(),
        predictions=pd.concat(
            [
                pd.DataFrame({"model": m, "y_true": y_test[folds[0].test], "pd": p})
                for m, p in seeds_out[0][2].items()
            ],
            ignore_index=True,
        ),
        selection=seeds_out[0][0].with_champion(champion),
        table_rows=seeds_out[0][1],
    )


SeedResult = tuple[Selection, TrainingTable, dict[str, np.ndarray]]


def _runs(
    folds: list[Fold], seeds_out: list[SeedResult], y: np.ndarray, thin: np.ndarray
) -> pd.DataFrame:
    """Test metrics per (model, slice, seed)."""
    rows: list[dict[str, object]] = []
    for seed, (fold, (_, _, scores)) in enumerate(zip(folds, seeds_out, strict=True)):
        y_fold, thin_fold = y[fold.test], thin[fold.test]
        for model, prob in scores.items():
            for slice_name, mask in (("all", np.ones_like(thin_fold)), ("thin", thin_fold)):
                metrics = all_metrics(y_fold[mask], prob[mask])
                rows.append({"model": model, "slice": slice_name, "seed": seed, **metrics})
    return pd.DataFrame(rows)


def _intervals(
    folds: list[Fold],
    seeds_out: list[SeedResult],
    y: np.ndarray,
    thin: np.ndarray,
    config: EvaluationConfig,
) -> dict[str, dict[str, dict[str, Interval]]]:
    """Paired bootstrap intervals per slice. Fixed test rows (temporal, given): each seed's
    scores on the same drawn rows, averaged over seeds; ``cv``: the folds' test rows pooled
    (each labelled row is tested once)."""
    models = seeds_out[0][0].models
    if config.split == "cv":
        test = np.concatenate([f.test for f in folds])
        preds = {m: [np.concatenate([s[2][m] for s in seeds_out])] for m in models}
    else:
        test = folds[0].test
        preds = {m: [s[2][m] for s in seeds_out] for m in models}
    out: dict[str, dict[str, dict[str, Interval]]] = {}
    for slice_name, mask in (("all", np.ones(len(test), bool)), ("thin", thin[test])):
        labels = y[test][mask]
        if mask.sum() < 2 or len(np.unique(labels)) < 2:
            continue
        out[slice_name] = paired_bootstrap(
            labels,
            {m: [p[mask] for p in runs] for m, runs in preds.items()},
            reference=REFERENCE if REFERENCE in models else None,
            replicates=config.replicates,
        )
    return out


def _counts(prep: _Prepared, fold: Fold, y: np.ndarray, thin: np.ndarray) -> dict[str, int]:
    return {
        "nodes_train_graph": int(prep.train_graph.data.num_nodes),
        "edges_train_graph": int(prep.train_graph.data.edge_index.shape[1]),
        "nodes_test_graph": int(prep.test_graph.data.num_nodes),
        "train_rows": len(fold.train),
        "train_businesses": len(np.unique(prep.groups[fold.train])),
        "train_positives": int(np.nansum(prep.train_graph.data.y.numpy()[fold.train])),
        "test_rows": len(fold.test),
        "test_positives": int(y[fold.test].sum()),
        "test_thin_rows": int(thin[fold.test].sum()),
        "test_thin_positives": int(y[fold.test][thin[fold.test]].sum()),
    }


def _slice_warnings(fold: Fold, y: np.ndarray, thin: np.ndarray) -> list[str]:
    positives = int(y[fold.test][thin[fold.test]].sum())
    if positives >= READABLE_MIN_POSITIVES:
        return []
    return [
        f"the thin-file slice holds {positives} positives (< {READABLE_MIN_POSITIVES}): "
        "its metrics are shown but cannot be read"
    ]


def _cell(mean: float, interval: Interval | None) -> str:
    if interval is None or not math.isfinite(interval.low):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def format_table(result: EvaluationResult) -> str:
    """Plain-text table: AUC and AUPRC with 95% bootstrap intervals, the paired lead over
    (b), KS, Brier and top-decile recall (means over seeds), and the champion rule."""
    lead = "AUC - (b) [95%]"
    header = (
        f"{'model':<32} {'slice':<5} {'AUC [95%]':>22} {'AUPRC [95%]':>22} {lead:>24} "
        f"{'KS':>6} {'Brier':>6} {'top10%':>6} {'CV AUC':>7}"
    )
    lines = [header, "-" * len(header)]
    for _, row in result.table.iterrows():
        model, slice_ = row["model"], row["slice"]
        auc = _cell(row["auc_mean"], result.interval(model, "auc", slice_))
        auprc = _cell(row["auprc_mean"], result.interval(model, "auprc", slice_))
        diff = result.interval(model, f"auc_minus_{REFERENCE}", slice_)
        lead_cell = (
            "" if diff is None else f"{diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
        )
        mark = "*" if model == result.champion else " "
        cv = f"{result.cv_auc.get(model, math.nan):.3f}" if slice_ == "all" else ""
        lines.append(
            f"{mark}{MODEL_LABELS[model]:<31} {slice_:<5} {auc:>22} {auprc:>22} {lead_cell:>24} "
            f"{row['ks_mean']:>6.3f} {row['brier_mean']:>6.3f} {row['recall_top10_mean']:>6.3f} "
            f"{cv:>7}"
        )
    lines.append(
        f"champion (best mean cross-validated AUC inside the training rows): "
        f"{MODEL_LABELS[result.champion]}; intervals: paired bootstrap over test businesses, "
        f"{result.seeds} seed(s)"
    )
    lines += [f"note: {w}" for w in result.warnings]
    return "\n".join(lines)
