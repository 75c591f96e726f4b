"""Gather what the HTML report shows: the evaluation, the model and, from Neo4j, the
clusters, the riskiest businesses with their reasons and the train/test cohorts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tradegraph.report.html import ReportData, from_evaluation_json, render_report

logger = logging.getLogger(__name__)
#: Riskiest businesses listed with their reasons.
RISKIEST_SHOWN = 20
#: The top clusters drawn as pictures (``clusters show``) and linked from the report.
CLUSTERS_DRAWN = 5


def _latest_evaluation(runs_dir: Path) -> Path | None:
    """The newest JSON under ``runs_dir`` written by ``tradegraph evaluate --json``."""
    found = []
    for path in runs_dir.rglob("*.json") if runs_dir.exists() else []:
        try:
            payload = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue
        if isinstance(payload, dict) and "table" in payload and "champion" in payload:
            found.append((path.stat().st_mtime, path))
    return max(found)[1] if found else None


def _holdout_metrics(metrics: dict[str, Any]) -> pd.DataFrame | None:
    """The model's own out-of-fold metrics (from its artefact) as a metrics table."""
    oof = metrics.get("out_of_fold") or {}
    rows = [{"model": m, "slice": "out-of-fold", **values} for m, values in oof.items()]
    return pd.DataFrame(rows) if rows else None


def _cohorts(
    driver: Any, artefact: Any, test_as_of: pd.Timestamp, data: Any, say: Any,
    settings: Any, lake: Path | None = None,
) -> None:  # fmt: skip
    """Fill ``data``'s scores, PSI cohorts and (when missing) champion predictions from the
    graph (or the ``lake``): the training cohort at the model's date and the test cohort at
    ``test_as_of``."""
    from gnn.evaluate import FeatureSet
    from gnn.scoring import score
    from graph.snapshot import read_snapshot
    from loaders.lake import read_lake_snapshot

    features = FeatureSet.default()
    frames: dict[str, pd.DataFrame] = {}
    scored: dict[str, pd.DataFrame] = {}
    for name, as_of in (("train", artefact.trained_as_of), ("test", test_as_of)):
        say(f"reading the {name} cohort as of {as_of.date()}")
        horizon = settings.horizon_days
        snapshot = (
            read_lake_snapshot(lake, as_of, horizon_days=horizon)
            if lake
            else read_snapshot(
                driver, as_of, database=settings.neo4j_database, horizon_days=horizon
            )
        )
        if snapshot.businesses.empty:
            data.warnings.append(f"no businesses registered before {as_of.date()} in Neo4j")
            return
        smes = snapshot.businesses.loc[snapshot.businesses["kind"] == "sme", "business_id"]
        frames[name] = features.frame(snapshot, as_of).reindex(smes.astype(str))
        say(f"scoring the {name} cohort")
        scored[name] = score(artefact, snapshot, as_of, with_reasons=False)
        if name == "test":
            outcomes = snapshot.outcomes
            labels = outcomes.set_index(outcomes["business_id"].astype(str))[artefact.target]
            labels = labels[~labels.index.duplicated()]
            scored[name]["y_true"] = (
                scored[name]["business_id"].map(labels).astype("Float64").astype(float)
            )
    columns = [c for c in artefact.feature_columns if c in frames["train"].columns]
    data.train_features, data.test_features = frames["train"][columns], frames["test"][columns]
    data.train_scores, data.test_scores = scored["train"]["score"], scored["test"]["score"]
    data.scores = scored["test"]
    labelled = scored["test"].dropna(subset=["y_true"])
    if data.predictions is None and len(labelled):
        data.predictions = pd.DataFrame(
            {"model": artefact.champion, "y_true": labelled["y_true"], "pd": labelled["pd"]}
        )
        data.champion = data.champion or artefact.champion
        data.warnings.append(
            "The evaluation holds no test predictions: curves show the champion only, "
            f"scored on the {test_as_of.date()} cohort."
        )


def _cluster_pages(
    driver: Any, clusters: list[dict[str, Any]], out: Path, settings: Any
) -> dict[str, str]:
    """Draw the given clusters under ``out/clusters``; their pages relative to ``out``."""
    from graph.clusters import cluster_picture
    from tradegraph.report.cluster_view import write_cluster_view

    pages = {}
    for cluster in clusters:
        picture = cluster_picture(driver, cluster["cluster_id"])
        _, page = write_cluster_view(picture, out / "clusters", settings.base_currency)
        pages[cluster["cluster_id"]] = page.relative_to(out).as_posix()
    return pages


def build_report(
    settings: Any,
    driver: Any | None,
    *,
    out: Path | None = None,
    evaluation: Path | None = None,
    model: Path | None = None,
    test_as_of: str | None = None,
    say: Callable[[str], Any] | None = None,
    lake: Path | None = None,
) -> Path:
    """The report from the newest (or given) evaluation and model; with ``driver``, also the
    clusters, the riskiest businesses with their reasons and both cohorts from Neo4j (the
    cohorts from ``lake`` when given). ``say(message)`` hears each step. Raises ValueError
    when there is nothing to report."""
    from gnn.artefact import ArtefactError, latest_artefact, load_artefact

    say = say or logger.info

    out = (out or settings.home / "report").resolve()
    evaluation = evaluation or _latest_evaluation(settings.runs_dir)
    if evaluation is not None and not evaluation.is_file():
        raise ValueError(f"No evaluation file {evaluation}.")
    data = from_evaluation_json(evaluation.read_text()) if evaluation else ReportData()
    if evaluation:
        data.facts["evaluation"] = str(evaluation)
    artefact = None
    try:
        artefact = load_artefact(model or latest_artefact(settings.models_dir))
    except ArtefactError as err:
        if model is not None or evaluation is None:
            raise ValueError(f"{err}; the report needs an evaluation JSON or a model.") from err
    if not data.model_labels:
        from gnn.evaluate import MODEL_LABELS

        data.model_labels = dict(MODEL_LABELS)
    if artefact is not None:
        data.facts |= {"model_version": artefact.model_version, "champion": artefact.champion}
        data.facts.setdefault("train_as_of", str(artefact.trained_as_of.date()))
        if artefact.card_path and artefact.card_path.exists():
            data.model_card = artefact.card_path.read_text(encoding="utf-8")
        if data.metrics is None:
            data.metrics = _holdout_metrics(artefact.metrics)
            data.champion = artefact.champion
    if driver is not None:
        from graph.clusters import latest_cluster_run, list_clusters
        from graph.scores import riskiest

        say("reading suspicious clusters and the riskiest businesses")
        data.clusters = list_clusters(driver, limit=10)
        data.cluster_run = latest_cluster_run(driver)
        data.cluster_pages = _cluster_pages(driver, data.clusters[:CLUSTERS_DRAWN], out, settings)
        data.riskiest = riskiest(driver, limit=RISKIEST_SHOWN)
        date = test_as_of or data.facts.get("test_as_of")
        if artefact is not None and date:
            _cohorts(driver, artefact, pd.Timestamp(date, tz="UTC"), data, say, settings, lake)
        elif artefact is not None:
            data.warnings.append("No test date: pass --test-as-of for PSI and grades.")
    say("drawing the report")
    return render_report(data, out)
