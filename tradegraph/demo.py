"""The main job end to end on the embedded default: the whole tradegraph story in one run.

Stages (each timed): start the local Neo4j -> generate a synthetic marketplace -> validate
and load it -> graph analytics -> evaluate champion and baselines (one seed: quicker than
``tradegraph evaluate``'s five) -> keep that run's champion as the scoring model (no second
fit, so report, model card and scores name one champion) -> score every SME and write the
scores back -> find suspicious clusters -> write the HTML report.

Dates follow the synthetic marketplace: models learn from the cohort scored on 2024-01-01
(labels mature a year later), are tested on the 2025-01-01 cohort, and today's scores are as
of 2026-01-01, the day after the export ends.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import neo4j
import pandas as pd

from loaders.columns import HUB_THRESHOLD
from tradegraph.settings import Settings

if TYPE_CHECKING:
    from gnn.artefact import Artefact
    from gnn.evaluate import EvaluationResult
    from gnn.selection import Say
    from graph.server.local import LocalServerConfig
    from loaders.lake import LakeSnapshot

TRAIN_AS_OF = pd.Timestamp("2024-01-01", tz="UTC")
TEST_AS_OF = pd.Timestamp("2025-01-01", tz="UTC")
SCORE_AS_OF = pd.Timestamp("2026-01-01", tz="UTC")
#: Cross-validation folds of the demo's one fit-and-select (``tradegraph train``: 5).
DEMO_FOLDS = 3

#: Three questions to try in Neo4j Browser after the demo (parameters inline for pasting).
BROWSER_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "The riskiest SMEs and whom they sell to",
        "MATCH (b:Business {kind: 'sme'}) WHERE b.risk_grade IS NOT NULL\n"
        "WITH b ORDER BY b.risk_pd DESC LIMIT 5\n"
        "MATCH p = (b)-[:TRADES_WITH]->(:Business) RETURN p",
    ),
    (
        "Businesses that share a non-hub device with another business",
        "MATCH (a:Business)-[:HAS_IDENTIFIER]->(i:Identifier {type: 'device_id'})"
        "<-[:HAS_IDENTIFIER]-(b:Business)\n"
        "WHERE NOT coalesce(i.hub, false) AND a.business_id < b.business_id\n"
        "RETURN a.business_id, b.business_id, i.hash LIMIT 25",
    ),
    (
        "The most suspicious cluster with its members' trade",
        "MATCH (c:Cluster) WITH c ORDER BY c.suspicion DESC LIMIT 1\n"
        "MATCH (b:Business)-[:IN_CLUSTER]->(c)\n"
        "OPTIONAL MATCH t = (b)-[:TRADES_WITH]->(:Business)-[:IN_CLUSTER]->(c)\n"
        "RETURN c, b, t",
    ),
)


@dataclass
class DemoResult:
    """What the demo produced, for the summary it prints."""

    export_dir: Path
    report_path: Path | None = None
    model_dir: Path | None = None
    evaluation_json: Path | None = None
    top_risky: pd.DataFrame = field(default_factory=pd.DataFrame)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.stage_seconds.values())


class DemoRefused(RuntimeError):
    """The demo would write into a database it did not start and that already holds data."""


def check_target_database(driver: neo4j.Driver, *, external: bool) -> None:
    """Refuse to write demo data into a server the user named that already holds a graph.

    The local server is tradegraph's own, and re-running the demo on it is idempotent (the
    generator is deterministic and loading is exact), so it needs no wiping either.
    """
    if not external:
        return
    from graph.load import graph_counts

    counts = graph_counts(driver)
    if any(counts.values()):
        raise DemoRefused(
            "NEO4J_URI names a server whose database already holds data, and the demo never "
            "writes into a database it did not start. Unset NEO4J_URI to use the local server, "
            "or point it at an empty database."
        )


def run_demo(
    driver: neo4j.Driver,
    settings: Settings,
    *,
    work_dir: Path,
    models_dir: Path,
    key: bytes,
    businesses: int = 10_000,
    seed: int = 42,
    batch_size: int = 20_000,
    hub_threshold: int = HUB_THRESHOLD,
    say: Say = print,
    stage: Callable[[str], None] | None = None,
    local_server: LocalServerConfig | None = None,
) -> DemoResult:
    """Run every stage against ``driver``; ``stage(name)`` is called as each begins. With
    ``local_server`` (the project's own server) and an empty database, the first load is a
    bulk import (``graph.bulk.bulk_load_export``); otherwise, and on every re-run, it is the
    online load, which is idempotent."""
    from graph import analytics, clusters

    work_dir.mkdir(parents=True, exist_ok=True)
    lake = work_dir / "lake"
    shutil.rmtree(lake, ignore_errors=True)  # the demo's own lake, rebuilt with its graph
    result = DemoResult(export_dir=work_dir / "export")

    def timed(name: str) -> _Timer:
        if stage is not None:
            stage(name)
        return _Timer(result.stage_seconds, name)

    with timed("generate"):
        _generate(result.export_dir, businesses=businesses, seed=seed, say=say)
    with timed("validate + load"):
        load = _LoadTarget(driver, key, batch_size, hub_threshold, local_server)
        result.counts = _load(load, settings, result.export_dir, work_dir, lake, say)
    with timed("analytics"):
        analytics.run_all(driver)
    with timed("snapshots"):
        snapshots = _snapshots(lake, settings)
    with timed(f"evaluate (1 seed, {DEMO_FOLDS} folds)"):
        evaluation = _evaluate(snapshots, settings, say)
        result.evaluation_json = work_dir / "evaluation.json"
        result.evaluation_json.write_text(evaluation.to_json())
    with timed("train"):
        artefact = _train(evaluation, snapshots[0], models_dir)
        result.model_dir = getattr(artefact, "folder", None)
    with timed("score + write back"):
        result.top_risky = _score(driver, settings, artefact, snapshots[2], work_dir)
    with timed("clusters"):
        clusters.refresh_clusters(driver)
    with timed("report"):
        result.report_path = _report(driver, settings, result, work_dir, lake)
    (work_dir / "demo-timings.json").write_text(json.dumps(result.stage_seconds, indent=2))
    return result


def _generate(export_dir: Path, *, businesses: int, seed: int, say: Say) -> None:
    from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export

    # Outcomes at the two score dates the demo uses; the 25 monthly cohorts that stacked
    # training reads would add minutes of loading and are not used here.
    market = generate_marketplace(
        SyntheticConfig(n_businesses=businesses, seed=seed, monthly_cohorts=False)
    )
    write_export(market, export_dir)
    say(
        f"Generated {len(market.businesses):,} businesses and "
        f"{len(market.transactions):,} orders into {export_dir}"
    )


@dataclass(frozen=True)
class _LoadTarget:
    """Where and how the demo loads: the driver, the identifier key, the online load's
    batch size, the hub threshold and, for a bulk import, the project's own server."""

    driver: neo4j.Driver
    key: bytes
    batch_size: int
    hub_threshold: int
    local_server: LocalServerConfig | None


def _load(
    target: _LoadTarget, settings: Settings, export_dir: Path, work_dir: Path, lake: Path,
    say: Say,
) -> dict[str, int]:  # fmt: skip
    """Validate and load the export (bulk into an empty local server, online otherwise),
    writing the lake in the same pass; the graph's counts after."""
    from graph.bulk import bulk_load_export
    from graph.load import graph_counts, load_export

    rejects = work_dir / "rejects"
    driver, local_server = target.driver, target.local_server
    if local_server is not None and not any(graph_counts(driver).values()):
        imported, _ = bulk_load_export(
            local_server, export_dir, target.key, rejects_dir=rejects,
            options=settings.export_options(), hub_threshold=target.hub_threshold, lake=lake,
            say=lambda _m: None,
        )  # fmt: skip
        rate = f"bulk import, {imported.orders / max(imported.seconds, 1e-9):,.0f} orders/s"
    else:
        load = load_export(
            driver, export_dir, target.key, rejects_dir=rejects, batch_size=target.batch_size,
            hub_threshold=target.hub_threshold, options=settings.export_options(), lake=lake,
        )  # fmt: skip
        rate = f"online load, {load.orders_per_second:,.0f} orders/s"
    counts = graph_counts(driver)
    say(f"Loaded ({rate}); graph {counts}")
    return counts


def _snapshots(lake: Path, settings: Settings) -> tuple[LakeSnapshot, LakeSnapshot, LakeSnapshot]:
    """The train, test and score snapshots, from the lake the load wrote in the same pass:
    the same frames Neo4j gives (tests/loaders/test_lake.py), without reading 800k orders
    back over Bolt three times."""
    from loaders.lake import read_lake_snapshot

    train, test, score = (
        read_lake_snapshot(lake, as_of, horizon_days=settings.horizon_days)
        for as_of in (TRAIN_AS_OF, TEST_AS_OF, SCORE_AS_OF)
    )
    return train, test, score


def _evaluate(
    snapshots: tuple[LakeSnapshot, LakeSnapshot, LakeSnapshot], settings: Settings, say: Say
) -> EvaluationResult:
    """Champion and baselines, lighter than `train`'s default (5 folds) to keep the demo
    within minutes: the same fit-and-select code; `tradegraph evaluate` runs the full
    comparison."""
    from gnn.evaluate import EvaluationConfig, evaluate, format_table
    from gnn.selection import SelectionConfig

    say(f"evaluating with {DEMO_FOLDS} folds and 1 seed (train and evaluate default to 5)")
    config = EvaluationConfig(
        seeds=1, train_as_of=TRAIN_AS_OF, test_as_of=TEST_AS_OF,
        horizon_days=settings.horizon_days, selection=SelectionConfig(folds=DEMO_FOLDS),
    )  # fmt: skip
    evaluation = evaluate(snapshots[0], snapshots[1], config)
    say(format_table(evaluation))
    return evaluation


def _train(evaluation: EvaluationResult, train: LakeSnapshot, models_dir: Path) -> Artefact:
    """The champion, its fitted models and calibration are the evaluation's: one choice per
    run, no second fit."""
    from gnn.scoring import train_models

    assert evaluation.selection is not None and evaluation.table_rows is not None
    return train_models(
        train, TRAIN_AS_OF, models_dir=models_dir,
        fitted=(evaluation.selection, evaluation.table_rows),
    )  # fmt: skip


def _score(
    driver: neo4j.Driver, settings: Settings, artefact: Artefact, snapshot: LakeSnapshot,
    work_dir: Path,
) -> pd.DataFrame:  # fmt: skip
    """Score every SME, write the scores back, refresh the serving store and the CSV; the
    ten riskiest."""
    from gnn.neighbourhood import NeighbourhoodStore
    from gnn.scoring import prepare_scores, score_prepared
    from graph.scores import write_scores
    from tradegraph.exports import write_scores_csv
    from tradegraph.long_lived import freeze_long_lived

    freeze_long_lived()  # what the demo holds lives to its end; as `tradegraph score` does
    prepared = prepare_scores(artefact, snapshot, SCORE_AS_OF)
    scores = score_prepared(prepared)
    write_scores(driver, scores, SCORE_AS_OF, artefact.model_version)
    NeighbourhoodStore.write(prepared, settings.serving_dir)
    write_scores_csv(scores, work_dir / "scores.csv")
    return scores.head(10)


def _report(
    driver: neo4j.Driver, settings: Settings, result: DemoResult, work_dir: Path, lake: Path
) -> Path:
    from tradegraph.report.build import build_report

    return build_report(
        settings,
        driver,
        out=work_dir / "report",
        evaluation=result.evaluation_json,
        model=result.model_dir,
        test_as_of=str(TEST_AS_OF.date()),
        lake=lake,
    )


class _Timer:
    def __init__(self, sink: dict[str, float], name: str) -> None:
        self.sink, self.name = sink, name

    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sink[self.name] = time.perf_counter() - self.started
