"""Train a calibrated champion at one score date, and score every SME with it.

``train_models(frames, as_of)`` splits the labelled cohort at ``as_of`` (stratified) into
train (60%), validation (20%) and hold-out (20%); fits the four models of ``gnn.evaluate``
((a) trees on own features, (b) trees on own + counterparty, (c) GraphSAGE, (d) the hybrid)
the way ``gnn.evaluate`` fits them (GraphSAGE is the bag of cross-fitted models from
``gnn.evaluate.cross_fitted_sage``; the hybrid stacks its logit, out of fold on training rows,
the bag's mean elsewhere and at scoring); picks the champion on validation AUC;
fits the calibration on the validation rows only; and measures everything in the model card on
the hold-out rows, which nothing was fitted or chosen on.

``score(artefact, frames, as_of)`` scores inductively: features and graph are rebuilt as of
the scoring date, so a business that did not exist at training is scored from its own and its
neighbours' data, with reasons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor, nn

from gnn import model_card
from gnn.artefact import CARD_FILE, SAGE_DIR, Artefact, new_model_version, save_artefact
from gnn.baselines import TreeConfig, fit_trees
from gnn.calibration import (
    Method,
    calibration_table,
    expected_calibration_error,
    fit_calibrator,
)
from gnn.data import EdgeWeighting, FeatureScaler, Frames, GraphData, build_graph, trade_pairs
from gnn.evaluate import MODELS, FeatureSet, Fold, cross_fitted_sage
from gnn.metrics import all_metrics
from gnn.model import GraphSAGE, SAGEConfig
from gnn.reasons import explain
from gnn.scale import Grades, ScoreScale, grades_from_pd_bands
from gnn.train import TrainConfig, TrainedSAGE
from loaders.columns import as_utc

Say = Callable[[str], None]
SCORE_COLUMNS = ["business_id", "pd", "score", "grade", "reasons", "model_version", "as_of"]
#: A slice whose hold-out AUC trails the overall one by more than this is flagged.
AUC_GAP_FLAG = 0.10

#: ``calibration='auto'`` uses isotonic only from this many defaults in the validation rows.
ISOTONIC_MIN_DEFAULTS = 200


#: The hybrid's GraphSAGE column. The ``emb_`` prefix tells ``gnn.reasons`` it is graph-derived:
#: its tree contribution is attributed through the graph (Integrated Gradients), not as own.
SAGE_LOGIT_COLUMN = "emb_graphsage_logit"
#: Bag members are stored under ``sage/<BAG_DIR>/member-<j>``; ``sage/`` itself holds member 0
#: in the single-model format, so an older reader still finds a working model there.
BAG_DIR = "bag"
#: ``gnn.evaluate`` takes member logits from probabilities clipped to [1e-6, 1 - 1e-6].
_LOGIT_CLIP = float(np.log((1 - 1e-6) / 1e-6))


class TrainingDataError(ValueError):
    """The cohort at the training date cannot support training (too few labels)."""


class SageBagModel(nn.Module):
    """Cross-fitted GraphSAGE members averaged in logit space, as ``gnn.evaluate`` scores (c).

    ``forward(x, adjacencies) -> [N]`` mean logit; ``embed`` gives it as ``[N, 1]``: the column
    the hybrid stacks, so ``gnn.reasons`` explains the hybrid's GraphSAGE part through it.
    """

    def __init__(self, members: list[GraphSAGE]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.in_channels = members[0].in_channels
        self.config = members[0].config

    @property
    def convs(self) -> nn.ModuleList:
        """The first member's layers (their count is the receptive field, in hops)."""
        return self.members[0].convs  # type: ignore[return-value]

    def forward(self, x: Tensor, adjacencies: list[Tensor]) -> Tensor:
        logits = [m(x, adjacencies).clamp(-_LOGIT_CLIP, _LOGIT_CLIP) for m in self.members]
        return torch.stack(logits).mean(dim=0)

    def embed(self, x: Tensor, adjacencies: list[Tensor]) -> Tensor:
        return self.forward(x, adjacencies).unsqueeze(-1)


class BaggedSAGE(TrainedSAGE):
    """A :class:`TrainedSAGE` whose model is a :class:`SageBagModel`: ``predict_proba`` is the
    sigmoid of the bag's mean logit and ``embed`` is that logit ``[N, 1]``."""

    members: list[TrainedSAGE]

    @classmethod
    def from_members(cls, members: list[TrainedSAGE]) -> BaggedSAGE:
        first = members[0]
        bag = cls(
            model=SageBagModel([m.model for m in members]),
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


def _split(labelled: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified 60/20/20 train/validation/hold-out positions."""
    rest, holdout = train_test_split(labelled, test_size=0.2, random_state=seed, stratify=y)
    y_rest = y[np.searchsorted(labelled, rest)]
    train, val = train_test_split(rest, test_size=0.25, random_state=seed, stratify=y_rest)
    return np.sort(train), np.sort(val), np.sort(holdout)


def year_pairs(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Trade pairs (seller_id, buyer_id, gmv, orders) over the year before ``as_of``, the
    window the counterparty aggregates use; reason texts quote shares from it."""
    recent = orders[orders["ts"] >= as_of - pd.Timedelta(days=365)]
    return trade_pairs(recent, as_of)


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


def _grade_backtest(grades: Grades, scores: np.ndarray, y: np.ndarray, pd_: np.ndarray) -> list:
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


def train_models(
    frames: Frames,
    as_of: pd.Timestamp | str,
    *,
    target: str = "defaulted",
    models_dir: Path | None = None,
    feature_set: FeatureSet | None = None,
    champion: str = "auto",
    calibration: Method | str = "auto",
    scale: ScoreScale = ScoreScale(),
    grades: Grades | None = None,
    sage_config: SAGEConfig = SAGEConfig(),
    train_config: TrainConfig = TrainConfig(),
    tree_config: TreeConfig = TreeConfig(),
    weighting: EdgeWeighting = "gmv",
    gnn_bags: int = 4,
    seed: int = 0,
    progress: Say | None = None,
) -> Artefact:
    """Train, choose, calibrate and (when ``models_dir`` is given) save with a model card.

    ``champion``: ``auto`` (best validation AUC) or one of ``gnn.evaluate.MODELS`` to force it.
    ``gnn_bags`` (>= 2): cross-fitted GraphSAGE members, as in ``gnn.evaluate.evaluate``.
    ``calibration``: ``isotonic``, ``platt`` or ``auto`` (isotonic from
    ``ISOTONIC_MIN_DEFAULTS`` validation defaults, Platt below).
    Raises :class:`TrainingDataError` when the cohort has too few labelled defaults.
    """
    say = progress or (lambda _m: None)
    as_of = as_utc(as_of)
    features_def = feature_set or FeatureSet.default()
    if champion != "auto" and champion not in MODELS:
        raise ValueError(f"unknown champion {champion!r}: use auto or one of {list(MODELS)}")

    say("computing point-in-time features")
    features = features_def.frame(frames, as_of)
    own, counterparty = list(features_def.own), list(features_def.counterparty)
    all_columns = own + counterparty
    scaler = FeatureScaler(all_columns).fit(features)
    say("building the graph")
    graph = build_graph(frames, features, scaler, as_of, target, weighting)
    labelled = graph.labelled
    y_all = graph.data.y.numpy()
    y_labelled = y_all[labelled].astype(int)
    if len(labelled) < 50 or y_labelled.sum() < 10 or (1 - y_labelled).sum() < 10:
        raise TrainingDataError(
            f"only {len(labelled)} labelled businesses with {int(y_labelled.sum())} "
            f"{target} at {as_of.date()}: train at a score date with outcomes loaded "
            "(at least 50 labelled, 10 of each class)"
        )
    train, val, holdout = _split(labelled, y_labelled, seed)
    raw = features.reindex(graph.business_ids)
    matrices = {
        "trees_own": raw[own].to_numpy(np.float32),
        "trees_own_cp": raw[all_columns].to_numpy(np.float32),
    }
    trees = {}
    probabilities: dict[str, np.ndarray] = {}
    for name, matrix in matrices.items():
        say(f"training {name}")
        cols = own if name == "trees_own" else all_columns
        trees[name] = fit_trees(
            matrix[train], y_all[train], matrix[val], y_all[val], cols, seed, tree_config
        )
        probabilities[name] = trees[name].predict_proba(matrix)
    say(f"training graphsage (bag of {gnn_bags}, cross-fitted)")
    bag = cross_fitted_sage(
        graph, None, Fold(train, val, holdout), scaler, gnn_bags, seed,
        sage_config, train_config, weighting,
    )  # fmt: skip
    sage = BaggedSAGE.from_members(bag.models)
    probabilities["graphsage"] = 1.0 / (1.0 + np.exp(-bag.train_logit))
    say("training hybrid")
    # As in gnn.evaluate: training rows carry the out-of-fold logit (the member that never saw
    # their label), every other row - and every business at scoring - the bag's mean logit.
    hybrid_fit = np.hstack([matrices["trees_own_cp"], bag.stacked_logit[:, None]])
    hybrid_matrix = np.hstack([matrices["trees_own_cp"], bag.train_logit[:, None]])
    trees["hybrid"] = fit_trees(
        hybrid_fit[train], y_all[train], hybrid_fit[val], y_all[val],
        [*all_columns, SAGE_LOGIT_COLUMN], seed, tree_config,
    )  # fmt: skip
    probabilities["hybrid"] = trees["hybrid"].predict_proba(hybrid_matrix)

    validation = {m: all_metrics(y_all[val], p[val]) for m, p in probabilities.items()}
    if champion == "auto":
        champion = max(MODELS, key=lambda m: np.nan_to_num(validation[m]["auc"], nan=-1.0))
    say(f"calibrating the champion ({champion}) on validation rows")
    if calibration == "auto":
        # Isotonic on a few dozen defaults is a staircase of a handful of PDs, which bunches
        # the grades (one demo run: no B at all, 3 Ds); Platt keeps PDs continuous until the
        # validation rows hold enough defaults for isotonic's extra flexibility to pay.
        calibration = "isotonic" if y_all[val].sum() >= ISOTONIC_MIN_DEFAULTS else "platt"
    calibrator = fit_calibrator(probabilities[champion][val], y_all[val], calibration)
    grades = grades or grades_from_pd_bands(scale)

    y_hold = y_all[holdout]
    pd_hold = calibrator(probabilities[champion][holdout])
    holdout_metrics = {m: all_metrics(y_hold, p[holdout]) for m, p in probabilities.items()}
    holdout_metrics["champion_calibrated"] = all_metrics(y_hold, pd_hold)
    thin = graph.data.thin.numpy()[holdout]
    thin_auc = all_metrics(y_hold[thin], pd_hold[thin])["auc"] if thin.any() else math.nan
    cohort_rows = features.reindex(graph.business_ids[labelled])[all_columns]
    typical = {c: float(v) for c, v in cohort_rows.median().items()}
    typical[SAGE_LOGIT_COLUMN] = float(bag.train_logit[labelled].mean())
    tree_columns = {
        "trees_own": own,
        "trees_own_cp": all_columns,
        "graphsage": all_columns,
        "hybrid": [*all_columns, SAGE_LOGIT_COLUMN],
    }[champion]
    registered = frames.businesses["registered_at"]
    trained_at = pd.Timestamp.now(tz="UTC")
    metrics: dict[str, object] = {
        "cohort": {
            "as_of": str(as_of.date()),
            "target": target,
            "businesses_in_graph": int(graph.data.num_nodes),
            "trade_edges": int(graph.data.edge_index.shape[1]),
            "labelled": len(labelled),
            "positives": int(y_labelled.sum()),
            "train": len(train),
            "validation": len(val),
            "holdout": len(holdout),
            "holdout_thin_file": int(thin.sum()),
            "first_registration": str(registered.min().date()) if len(registered) else "",
            "first_order": str(frames.orders["ts"].min().date()) if len(frames.orders) else "",
        },
        "champion": champion,
        "validation": validation,
        "holdout": holdout_metrics,
        "holdout_thin_auc": thin_auc,
        "calibration_method": calibration,
        "ece_raw": expected_calibration_error(probabilities[champion][holdout], y_hold),
        "ece_calibrated": expected_calibration_error(pd_hold, y_hold),
        "calibration_table": _records(calibration_table(pd_hold, y_hold)),
        "grade_backtest": _grade_backtest(grades, scale.score(pd_hold), y_hold, pd_hold),
        "slices": _slices(frames, graph.business_ids, holdout, y_hold, pd_hold),
        "sage": sage_config.to_dict(),
        "weighting": weighting,
        "sage_best_epoch": sage.best_epoch,
        "gnn_bags": len(bag.models),
    }
    champion_trees = trees.get(champion)
    artefact = Artefact(
        model_version=new_model_version(as_of, trained_at),
        trained_as_of=as_of,
        trained_at=trained_at.isoformat(),
        champion=champion,
        target=target,
        own_features=own,
        counterparty_features=counterparty,
        tree_columns=tree_columns,
        calibrator=calibrator,
        scale=scale,
        grades=grades,
        sage=sage,
        trees=None if champion_trees is None else champion_trees.booster.booster_,
        typical=typical,
        metrics=metrics,
    )
    if models_dir is not None:
        say("writing the artefact and model card")
        folder = save_artefact(artefact, models_dir)
        (folder / CARD_FILE).write_text(model_card.render(artefact))
    return artefact


def _graph_for(artefact: Artefact, frames: Frames, features: pd.DataFrame, as_of) -> GraphData:
    sage: TrainedSAGE | None = artefact.sage
    scaler = sage.scaler if sage is not None else FeatureScaler(artefact.feature_columns)
    if sage is None:
        scaler.fit(features)
    weighting = sage.weighting if sage is not None else "gmv"
    return build_graph(frames, features, scaler, as_of, None, weighting)


def raw_probability(artefact: Artefact, features: pd.DataFrame, graph: GraphData) -> np.ndarray:
    """The champion's uncalibrated probability ``[N]`` for every node of ``graph``. A hybrid
    reads the raw features plus the GraphSAGE bag's mean logit (``SAGE_LOGIT_COLUMN``)."""
    kind = artefact.champion
    sage = bagged_sage(artefact)
    if kind == "graphsage":
        return sage.predict_proba(graph)  # type: ignore[union-attr]
    if kind == "hybrid":  # the bag's mean logit, the input the hybrid's trees were fitted on
        logit = sage.embed(graph)  # type: ignore[union-attr]
        matrix = np.hstack([features[artefact.feature_columns].to_numpy(np.float64), logit])
    else:
        matrix = features[artefact.tree_columns].to_numpy(np.float64)
    return np.asarray(artefact.trees.predict(matrix))  # type: ignore[union-attr]


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
) -> pd.DataFrame:
    """Score every business of ``kinds`` registered before ``as_of`` (or just ``business_ids``).

    Returns one row per business: ``business_id, pd, score (int), grade, reasons (list[str]),
    model_version, as_of``, riskiest first. ``progress(done, total)`` is called as reasons are
    computed.
    """
    as_of = as_utc(as_of)
    features_def = feature_set or FeatureSet.default()
    features = features_def.frame(frames, as_of)
    missing = [c for c in artefact.feature_columns if c not in features.columns]
    if missing:
        raise ValueError(
            f"features {missing[:5]} the model was trained on are missing: score with the "
            "same feature definitions, or retrain with `tradegraph train`"
        )
    graph = _graph_for(artefact, frames, features, as_of)
    features = features.reindex(graph.business_ids)
    probability = raw_probability(artefact, features, graph)
    pd_ = artefact.calibrator(probability)
    scores = artefact.scale.score(pd_)
    grades = artefact.grades.grade(scores)

    kind = frames.businesses.set_index(frames.businesses["business_id"].astype(str))["kind"]
    kind = kind[~kind.index.duplicated()].astype(str).reindex(graph.business_ids)
    wanted = kind.isin(kinds).to_numpy().copy()
    if business_ids is not None:
        wanted &= graph.business_ids.isin(pd.Index(business_ids).astype(str))
    targets = np.flatnonzero(wanted)
    reasons: list[list[str]] = [[] for _ in targets]
    if with_reasons and len(targets):
        done = {"n": 0}

        def tick(n: int) -> None:
            done["n"] += n
            if progress is not None:
                progress(done["n"], len(targets))

        reasons = explain(
            artefact, features, graph, targets, year_pairs(frames.orders, as_of), tick
        )
    out = pd.DataFrame(
        {
            "business_id": graph.business_ids[targets].astype(str),
            "pd": pd_[targets].astype(float),
            "score": scores[targets].astype(int),
            "grade": grades[targets].astype(str),
            "reasons": reasons,
            "model_version": artefact.model_version,
            "as_of": as_of,
        }
    )
    return out.sort_values(["pd", "business_id"], ascending=[False, True], ignore_index=True)
