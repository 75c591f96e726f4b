"""Train a calibrated champion at one score date, and score every SME with it.

``train_models(frames, as_of)`` takes the labelled cohort at ``as_of`` through
``gnn.selection.fit_and_select``, the routine ``evaluate`` uses too: every model is fitted out
of fold, the champion is the best on cross-validation inside the cohort, its calibration is
fitted on its out-of-fold predictions, and the model card quotes out-of-fold figures only
(the champion's calibrated PDs cross-fitted over the same folds). A training cohort whose
labels are not yet mature is refused unless the user allows it.

``score(artefact, frames, as_of)`` scores inductively: features and graph are rebuilt as of
the scoring date, so a business that did not exist at training is scored from its own and its
neighbours' data, with reasons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnn import model_card
from gnn.artefact import CARD_FILE, SAGE_DIR, Artefact, new_model_version, save_artefact
from gnn.calibration import calibration_table, expected_calibration_error
from gnn.cohorts import stack_cohorts
from gnn.data import FeatureScaler, Frames, GraphData, build_graph, pairs_of
from gnn.errors import TrainingDataError
from gnn.evaluate import FeatureSet, check_maturity
from gnn.metrics import all_metrics
from gnn.model import GraphSAGE, SageBagModel
from gnn.reason_codes import Reason
from gnn.reasons import GraphCache, explain
from gnn.scale import Grades, ScoreScale, grades_from_pd_bands
from gnn.selection import (
    ModelConfig,
    Say,
    Selection,
    SelectionConfig,
    TrainingTable,
    fit_and_select,
    training_table,
)
from gnn.train import TrainedSAGE
from loaders.columns import as_utc
from loaders.features import FeatureReference, compute_features

logger = logging.getLogger(__name__)

__all__ = ["TrainingConfig", "TrainingDataError", "score", "train_models"]

SCORE_COLUMNS = [
    "business_id", "pd", "score", "grade", "reasons", "reason_codes", "reason_details",
    "model_version", "as_of",
]  # fmt: skip
#: A slice whose hold-out AUC trails the overall one by more than this is flagged.
AUC_GAP_FLAG = 0.10


#: The hybrid's GraphSAGE column. The ``emb_`` prefix tells ``gnn.reasons`` it is graph-derived:
#: its tree contribution is attributed through the graph (Integrated Gradients), not as own.
SAGE_LOGIT_COLUMN = "emb_graphsage_logit"
#: Bag members are stored under ``sage/<BAG_DIR>/member-<j>``; ``sage/`` itself holds member 0
#: in the single-model format, so an older reader still finds a working model there.
BAG_DIR = "bag"


def _single(model: GraphSAGE | SageBagModel) -> GraphSAGE:
    """A bag's member must be one GraphSAGE (bags are not nested)."""
    if not isinstance(model, GraphSAGE):
        raise TypeError("a GraphSAGE bag is made of single fold models, not of bags")
    return model


class BaggedSAGE(TrainedSAGE):
    """A :class:`TrainedSAGE` whose model is a :class:`SageBagModel`: ``predict_proba`` is the
    sigmoid of the bag's mean logit and ``embed`` is that logit ``[N, 1]``."""

    members: list[TrainedSAGE]

    @classmethod
    def from_members(cls, members: list[TrainedSAGE]) -> BaggedSAGE:
        first = members[0]
        bag = cls(
            model=SageBagModel([_single(m.model) for m in members]),
            scaler=first.scaler,
            sage_config=first.sage_config,
            weighting=first.weighting,
            best_epoch=int(np.median([m.best_epoch for m in members])),
            val_auc=float(np.mean([m.val_auc for m in members])),
        )
        bag.members = members
        return bag

    def save(self, folder: Path) -> None:
        """Member 0 in ``folder`` (single-model format) and every member under ``BAG_DIR``."""
        self.members[0].save(folder)
        for j, member in enumerate(self.members):
            member.save(folder / BAG_DIR / f"member-{j}")

    @classmethod
    def load(cls, folder: Path, device: str = "cpu") -> BaggedSAGE:
        paths = sorted((folder / BAG_DIR).glob("member-*"), key=lambda p: int(p.name[7:]))
        if not paths:
            raise FileNotFoundError(f"{folder / BAG_DIR} holds no members: retrain the model")
        return cls.from_members([TrainedSAGE.load(path, device) for path in paths])


def bagged_sage(artefact: Artefact) -> TrainedSAGE | None:
    """The artefact's GraphSAGE as the bag it was trained as: a model folder read back by
    ``load_artefact`` holds member 0 in ``artefact.sage``; the whole bag is loaded (once)
    from ``sage/bag`` when it is there."""
    sage = artefact.sage
    folder = None if artefact.folder is None else artefact.folder / SAGE_DIR
    stored = folder is not None and (folder / BAG_DIR).is_dir()
    if sage is not None and not isinstance(sage, BaggedSAGE) and stored:
        device = str(next(sage.model.parameters()).device)
        artefact.sage = sage = BaggedSAGE.load(folder, device)  # type: ignore[arg-type]
    return sage


def year_pairs(frames: Frames, as_of: pd.Timestamp) -> pd.DataFrame:
    """Trade pairs (seller_id, buyer_id, gmv, orders) over the year before ``as_of``, the
    window the counterparty aggregates use; reason texts quote shares from it."""
    return pairs_of(frames, as_of, since=as_of - pd.Timedelta(days=365))


def _first_order(frames: Frames) -> str:
    """The date of the snapshot's first order ("" without orders); asked of the frames where
    they can answer it without handing over every order (a Spark snapshot)."""
    own = getattr(frames, "first_order_at", None)
    first = (
        own() if own is not None else (frames.orders["ts"].min() if len(frames.orders) else None)
    )
    return "" if first is None or pd.isna(first) else str(pd.Timestamp(first).date())


def _slices(
    frames: Frames, ids: pd.Index, positions: np.ndarray, y: np.ndarray, pd_: np.ndarray
) -> dict[str, list[dict[str, object]]]:
    """Hold-out performance by region and by industry, with large gaps flagged."""
    overall = all_metrics(y, pd_)["auc"]
    info = frames.businesses.set_index(frames.businesses["business_id"].astype(str))
    out: dict[str, list[dict[str, object]]] = {}
    for column in ("region", "industry"):
        values = info[column].astype(str).reindex(ids[positions]).to_numpy()
        rows = []
        for value in sorted(set(values)):
            mask = values == value
            n, defaults = int(mask.sum()), int(y[mask].sum())
            auc = all_metrics(y[mask], pd_[mask])["auc"] if n >= 20 else math.nan
            observed, predicted = defaults / n, float(pd_[mask].mean())
            tolerance = max(0.03, 2 * math.sqrt(max(predicted * (1 - predicted), 1e-6) / n))
            flags = []
            if not math.isnan(auc) and auc < overall - AUC_GAP_FLAG:
                flags.append(f"AUC {auc:.2f} vs {overall:.2f} overall")
            if abs(observed - predicted) > tolerance and n >= 20:
                flags.append(f"observed {observed:.1%} vs predicted {predicted:.1%}")
            rows.append(
                {
                    column: value,
                    "n": n,
                    "defaults": defaults,
                    "observed": observed,
                    "predicted": predicted,
                    "auc": auc,
                    "flag": "; ".join(flags),
                }
            )
        out[column] = rows
    return out


def _grade_backtest(
    grades: Grades, scores: np.ndarray, y: np.ndarray, pd_: np.ndarray
) -> list[dict[str, Any]]:
    letters = grades.grade(scores)
    rows = []
    for grade in grades.names:
        mask = letters == grade
        n = int(mask.sum())
        rows.append(
            {
                "grade": grade,
                "n": n,
                "defaults": int(y[mask].sum()),
                "observed": float(y[mask].mean()) if n else math.nan,
                "predicted": float(pd_[mask].mean()) if n else math.nan,
                "min_score": float(scores[mask].min()) if n else math.nan,
            }
        )
    return rows


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return frame.replace({np.nan: None}).to_dict(orient="records")


@dataclass(frozen=True)
class TrainingConfig:
    """What ``train`` does beyond fitting: the label horizon and the date the labels are
    known at (default: now), for the maturity check; ``train_dates``: earlier score dates whose
    cohorts are stacked with the training date's (``gnn.cohorts``); the score scale and grades."""

    target: str = "defaulted"
    horizon_days: int = 365
    labels_known_at: pd.Timestamp | None = None
    allow_immature: bool = False
    train_dates: tuple[pd.Timestamp, ...] = ()
    scale: ScoreScale = field(default_factory=ScoreScale)
    grades: Grades | None = None
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    models: ModelConfig = field(default_factory=ModelConfig)


def training_table_for(
    frames: Frames,
    as_of: pd.Timestamp,
    features_def: FeatureSet,
    config: TrainingConfig,
    cohorts: Mapping[pd.Timestamp, Frames] | None = None,
) -> tuple[TrainingTable, pd.DataFrame]:
    """The labelled cohort at ``as_of`` (stacked with ``config.train_dates``' cohorts, read
    from ``cohorts`` or cut from ``frames``) as a :class:`TrainingTable`, and its features.

    Raises :class:`TrainingDataError` when the cohort has too few labels of a class.
    """
    features = features_def.frame(frames, as_of)
    gnn_columns = features_def.own if config.models.gnn_inputs == "own" else list(features)
    scaler = FeatureScaler(gnn_columns).fit(features)
    target, weighting = config.target, config.models.weighting
    groups = None
    if config.train_dates:
        dates = sorted({pd.Timestamp(d) for d in config.train_dates if pd.Timestamp(d) < as_of})
        history = {**cohorts, as_of: frames} if cohorts else frames
        stacked = stack_cohorts(
            history, [*dates, as_of], features_def.frame, scaler, target=target, weighting=weighting
        )
        graph, features, groups = stacked.graph, stacked.features, stacked.groups
    else:
        graph = build_graph(frames, features, scaler, as_of, target, weighting)
    y = graph.data.y.numpy()[graph.labelled].astype(int)
    if len(y) < 50 or y.sum() < 10 or (1 - y).sum() < 10:
        raise TrainingDataError(
            f"only {len(y)} labelled businesses with {int(y.sum())} {config.target} at "
            f"{as_of.date()}: train at a score date with outcomes loaded "
            "(at least 50 labelled, 10 of each class)"
        )
    table = training_table(
        graph,
        features,
        own=features_def.own,
        counterparty=features_def.counterparty,
        scaler=scaler,
        groups=None if groups is None else groups[graph.labelled],
    )
    return table, features


def train_models(
    frames: Frames,
    as_of: pd.Timestamp | str,
    config: TrainingConfig = TrainingConfig(),
    *,
    models_dir: Path | None = None,
    feature_set: FeatureSet | None = None,
    fitted: tuple[Selection, TrainingTable] | None = None,
    cohorts: Mapping[pd.Timestamp, Frames] | None = None,
    progress: Say | None = None,
) -> Artefact:
    """Fit and select (``gnn.selection.fit_and_select``), calibrate and (when ``models_dir``
    is given) save with a model card.

    ``fitted`` reuses a selection already made on the same cohort (``evaluate`` returns its
    first seed's), so a run that evaluates and then trains has one champion and fits once.
    Raises :class:`TrainingDataError` (too few labels) and
    :class:`gnn.errors.ImmatureLabelsError` (labels not yet known at ``labels_known_at``).
    """
    say = progress or (lambda _m: None)
    as_of = as_utc(as_of)
    features_def = feature_set or FeatureSet.default()
    known_at = as_utc(config.labels_known_at or pd.Timestamp.now(tz="UTC"))
    check_maturity(as_of, known_at, config.horizon_days, allow=config.allow_immature)
    if fitted is None:
        say("computing point-in-time features")
        table, _ = training_table_for(frames, as_of, features_def, config, cohorts)
        selection = fit_and_select(
            table, config=config.selection, models=config.models, progress=say
        )
    else:
        selection, table = fitted
    say(f"champion {selection.champion}: measuring it out of fold")
    metrics = model_metrics(frames, table, selection, config, as_of)
    champion = selection.champion
    sage = BaggedSAGE.from_members(selection.sage) if selection.sage else None
    columns = table.columns
    trained_at = pd.Timestamp.now(tz="UTC")
    artefact = Artefact(
        model_version=new_model_version(as_of, trained_at),
        trained_as_of=as_of,
        trained_at=trained_at.isoformat(),
        champion=champion,
        target=config.target,
        own_features=columns["own"],
        counterparty_features=[c for c in columns["all"] if c not in columns["own"]],
        tree_columns=_tree_columns(champion, columns),
        calibrator=selection.calibrator,
        scale=config.scale,
        grades=config.grades or grades_from_pd_bands(config.scale),
        sage=sage,
        trees=None if champion == "graphsage" else selection.trees[champion].booster.booster_,
        typical=_typical(table, selection),
        metrics=metrics,
        feature_reference=_reference(features_def, frames, as_of),
    )
    logger.info("trained %s as of %s: champion %s", artefact.model_version, as_of.date(), champion)
    if models_dir is not None:
        say("writing the artefact and model card")
        folder = save_artefact(artefact, models_dir)
        (folder / CARD_FILE).write_text(model_card.render(artefact))
    return artefact


def _reference(
    features_def: FeatureSet, frames: Frames, as_of: pd.Timestamp
) -> FeatureReference | None:
    """The training date's population figures, frozen for scoring (``None`` for a feature
    function that has none)."""
    if features_def.compute is not compute_features:
        return None
    return FeatureReference.from_features(features_def.frame(frames, as_of))


def _tree_columns(champion: str, columns: dict[str, list[str]]) -> list[str]:
    return {
        "trees_own": columns["own"],
        "trees_own_cp": columns["all"],
        "graphsage": columns["all"],
        "hybrid": [*columns["all"], SAGE_LOGIT_COLUMN],
    }[champion]


def _typical(table: TrainingTable, selection: Selection) -> dict[str, float]:
    """Training-cohort medians of every feature (and of the hybrid's GraphSAGE logit)."""
    labelled = table.matrices["all"][table.rows]
    typical = dict(zip(table.columns["all"], np.nanmedian(labelled, axis=0).tolist(), strict=True))
    if selection.stacked_logit is not None:
        typical[SAGE_LOGIT_COLUMN] = float(np.mean(selection.stacked_logit[table.rows]))
    return {k: float(v) for k, v in typical.items()}


def model_metrics(
    frames: Frames,
    table: TrainingTable,
    selection: Selection,
    config: TrainingConfig,
    as_of: pd.Timestamp,
) -> dict[str, object]:
    """Everything the model card quotes, from out-of-fold predictions: each model's, and the
    champion's calibrated PD with the calibration itself cross-fitted over the same folds
    (so no row's PD comes from a calibration fitted on that row)."""
    y, rows, graph = table.y, table.rows, table.graph
    pd_oof = selection.cross_calibrated_oof()
    champion = selection.champion
    out_of_fold = {m: all_metrics(y, p) for m, p in selection.oof.items()}
    out_of_fold["champion_calibrated"] = all_metrics(y, pd_oof)
    thin = graph.data.thin.numpy()[rows]
    grades = config.grades or grades_from_pd_bands(config.scale)
    registered = frames.businesses["registered_at"]
    return {
        "cohort": {
            "as_of": str(as_of.date()),
            "target": config.target,
            "businesses_in_graph": int(graph.data.num_nodes),
            "trade_edges": int(graph.data.edge_index.shape[1]),
            "labelled": len(rows),
            "businesses": len(np.unique(table.groups)),
            "score_dates": sorted({str(d.date()) for d in [as_of, *config.train_dates]}),
            "positives": int(y.sum()),
            "folds": len(selection.fold_auc[champion]),
            "thin_file": int(thin.sum()),
            "thin_file_positives": int(y[thin].sum()),
            "first_registration": str(registered.min().date()) if len(registered) else "",
            "first_order": _first_order(frames),
        },
        "champion": champion,
        "champion_rule": "best mean held-out AUC over the cross-validation folds",
        "cv_auc": selection.cv_auc,
        "fold_auc": selection.fold_auc,
        "out_of_fold": out_of_fold,
        "thin_auc": all_metrics(y[thin], pd_oof[thin])["auc"] if thin.any() else math.nan,
        "calibration_method": selection.calibration_method,
        "ece_raw": expected_calibration_error(selection.oof[champion], y),
        "ece_calibrated": expected_calibration_error(pd_oof, y),
        "calibration_table": _records(calibration_table(pd_oof, y)),
        "grade_backtest": _grade_backtest(grades, config.scale.score(pd_oof), y, pd_oof),
        "slices": _slices(frames, pd.Index(table.groups), np.arange(len(rows)), y, pd_oof),
        "models": config.models.to_dict(),
        "tree_rounds": selection.rounds,
        "sage_best_epochs": [m.best_epoch for m in selection.sage],
        "gnn_bags": len(selection.sage),
    }


def input_scaler(artefact: Artefact, features: pd.DataFrame) -> FeatureScaler:
    """The graph inputs' scaler: the GraphSAGE's own; tree champions read no graph inputs, so
    theirs is fitted on the features at hand."""
    sage: TrainedSAGE | None = artefact.sage
    if sage is not None:
        return sage.scaler
    return FeatureScaler(artefact.feature_columns).fit(features)


def _graph_for(
    artefact: Artefact, frames: Frames, features: pd.DataFrame, as_of: pd.Timestamp
) -> GraphData:
    weighting = artefact.sage.weighting if artefact.sage is not None else "gmv"
    scaler = input_scaler(artefact, features)
    return build_graph(frames, features, scaler, as_of, None, weighting)


def raw_probability(
    artefact: Artefact,
    features: pd.DataFrame,
    graph: GraphData,
    cache: GraphCache | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """The champion's uncalibrated probability ``[N]`` for every node of ``graph``, or for
    ``rows`` only (NaN elsewhere; the GraphSAGE part then runs on their receptive field
    alone). A hybrid reads the raw features plus the GraphSAGE bag's mean logit
    (``SAGE_LOGIT_COLUMN``), kept in ``cache`` for the reasons when one is given."""
    kind = artefact.champion
    sage = bagged_sage(artefact)
    where = np.arange(len(features)) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.full(len(features), np.nan)
    if kind == "graphsage":
        out[where] = sage.predict_proba(graph, rows)  # type: ignore[union-attr]
        return out
    matrix_rows = features if rows is None else features.iloc[where]
    if kind == "hybrid":  # the bag's mean logit, the input the hybrid's trees were fitted on
        logit = np.full((len(features), 1), np.nan)
        logit[where] = sage.embed(graph, rows)  # type: ignore[union-attr]
        if cache is not None:
            cache.embedding = logit
        matrix = np.hstack(
            [matrix_rows[artefact.feature_columns].to_numpy(np.float64), logit[where]]
        )
    else:
        matrix = matrix_rows[artefact.tree_columns].to_numpy(np.float64)
    out[where] = np.asarray(artefact.trees.predict(matrix))  # type: ignore[union-attr]
    return out


@dataclass
class PreparedScores:
    """What scoring computes for the whole population at one date: features and graph (graph
    order), every node's PD, score and grade, and the explanation's population-wide parts.
    :func:`score_prepared` picks businesses from it, so a server scoring one business per
    request pays for the population once per snapshot (:func:`prepare_scores`)."""

    artefact: Artefact
    #: The snapshot; None for a neighbourhood (:mod:`gnn.neighbourhood`), which brings its pairs.
    frames: Frames | None
    as_of: pd.Timestamp
    features: pd.DataFrame
    graph: GraphData
    pd_: np.ndarray
    scores: np.ndarray
    grades: np.ndarray
    kind: pd.Series
    cache: GraphCache = field(default_factory=GraphCache)
    _pairs: pd.DataFrame | None = None

    @property
    def pairs(self) -> pd.DataFrame:
        """Trade pairs over the features' year (the reasons' counterparties), read once."""
        if self._pairs is None:
            if self.frames is None:
                raise ValueError("prepared scores without a snapshot must be given their pairs")
            self._pairs = year_pairs(self.frames, self.as_of)
        return self._pairs


def prepare_scores(
    artefact: Artefact,
    frames: Frames,
    as_of: pd.Timestamp | str,
    *,
    feature_set: FeatureSet | None = None,
) -> PreparedScores:
    """Features, graph and every business's PD, score and grade at ``as_of``."""
    as_of = as_utc(as_of)
    features_def = feature_set or FeatureSet.default()
    features = features_def.frame(frames, as_of, artefact.feature_reference)
    missing = [c for c in artefact.feature_columns if c not in features.columns]
    if missing:
        raise ValueError(
            f"features {missing[:5]} the model was trained on are missing: score with the "
            "same feature definitions, or retrain with `tradegraph train`"
        )
    graph = _graph_for(artefact, frames, features, as_of)
    features = features.reindex(graph.business_ids)
    cache = GraphCache()
    pd_ = artefact.calibrator(raw_probability(artefact, features, graph, cache))
    scores = artefact.scale.score(pd_)
    kind = frames.businesses.set_index(frames.businesses["business_id"].astype(str))["kind"]
    kind = kind[~kind.index.duplicated()].astype(str).reindex(graph.business_ids)
    grades = artefact.grades.grade(scores)
    return PreparedScores(
        artefact, frames, as_of, features, graph, pd_, scores, grades, kind, cache
    )


def score(
    artefact: Artefact,
    frames: Frames,
    as_of: pd.Timestamp | str,
    *,
    feature_set: FeatureSet | None = None,
    kinds: tuple[str, ...] = ("sme",),
    business_ids: list[str] | None = None,
    with_reasons: bool = True,
    progress: Callable[[int, int], None] | None = None,
    currency: str = "USD",
) -> pd.DataFrame:
    """Score every business of ``kinds`` registered before ``as_of`` (or just ``business_ids``).

    Returns one row per business: ``business_id, pd, score (int), grade``, the reasons as
    three aligned lists (``reasons``: the applicant's sentences, ``reason_codes``,
    ``reason_details``: the analyst's lines; see :mod:`gnn.reason_codes`), ``model_version,
    as_of``, riskiest first. ``progress(done, total)`` is called as reasons are computed;
    ``currency``: the base currency amounts are stated in.
    """
    prepared = prepare_scores(artefact, frames, as_of, feature_set=feature_set)
    return score_prepared(
        prepared, kinds=kinds, business_ids=business_ids, with_reasons=with_reasons,
        progress=progress, currency=currency,
    )  # fmt: skip


def score_prepared(
    prepared: PreparedScores,
    *,
    kinds: tuple[str, ...] = ("sme",),
    business_ids: list[str] | None = None,
    with_reasons: bool = True,
    progress: Callable[[int, int], None] | None = None,
    currency: str = "USD",
) -> pd.DataFrame:
    """:func:`score`'s rows for the businesses picked from ``prepared``."""
    graph, artefact = prepared.graph, prepared.artefact
    wanted = prepared.kind.isin(kinds).to_numpy().copy()
    if business_ids is not None:
        wanted &= graph.business_ids.isin(pd.Index(business_ids).astype(str))
    targets = np.flatnonzero(wanted)
    reasons: list[list[Reason]] = [[] for _ in targets]
    if with_reasons and len(targets):
        done = {"n": 0}

        def tick(n: int) -> None:
            done["n"] += n
            if progress is not None:
                progress(done["n"], len(targets))

        reasons = explain(
            artefact, prepared.features, graph, targets, prepared.pairs, tick,
            currency=currency, cache=prepared.cache,
        )  # fmt: skip
    out = pd.DataFrame(
        {
            "business_id": graph.business_ids[targets].astype(str),
            "pd": prepared.pd_[targets].astype(float),
            "score": prepared.scores[targets].astype(int),
            "grade": prepared.grades[targets].astype(str),
            "reasons": [[r.text for r in rs] for rs in reasons],
            "reason_codes": [[r.code for r in rs] for rs in reasons],
            "reason_details": [[r.detail for r in rs] for rs in reasons],
            "model_version": artefact.model_version,
            "as_of": prepared.as_of,
        }
    )
    logger.info(
        "scored %d businesses as of %s with %s (%s reasons)",
        len(out), prepared.as_of.date(), artefact.model_version,
        "with" if with_reasons else "without",
    )  # fmt: skip
    return out.sort_values(["pd", "business_id"], ascending=[False, True], ignore_index=True)
