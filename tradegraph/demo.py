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
    from gnn.selection import Say
    from graph.server.local import LocalServerConfig

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
    from gnn.evaluate import EvaluationConfig, evaluate, format_table
    from gnn.neighbourhood import NeighbourhoodStore
    from gnn.scoring import prepare_scores, score_prepared, train_models
    from gnn.selection import SelectionConfig
    from graph import analytics, clusters
    from graph.bulk import bulk_load_export
    from graph.load import graph_counts, load_export
    from graph.scores import write_scores
    from loaders.lake import read_lake_snapshot
    from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export
    from tradegraph.exports import write_scores_csv
    from tradegraph.long_lived import freeze_long_lived
    from tradegraph.report.build import build_report

    work_dir.mkdir(parents=True, exist_ok=True)
    export_dir = work_dir / "export"
    lake = work_dir / "lake"
    shutil.rmtree(lake, ignore_errors=True)  # the demo's own lake, rebuilt with its graph
    result = DemoResult(export_dir=export_dir)

    def timed(name: str) -> _Timer:
        if stage is not None:
            stage(name)
        return _Timer(result.stage_seconds, name)

    with timed("generate"):
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

    with timed("validate + load"):
        if local_server is not None and not any(graph_counts(driver).values()):
            imported, _ = bulk_load_export(
                local_server, export_dir, key, rejects_dir=work_dir / "rejects",
                options=settings.export_options(), hub_threshold=hub_threshold, lake=lake,
                say=lambda _m: None,
            )  # fmt: skip
            rate = f"bulk import, {imported.orders / max(imported.seconds, 1e-9):,.0f} orders/s"
        else:
            load = load_export(
                driver, export_dir, key, rejects_dir=work_dir / "rejects",
                batch_size=batch_size, hub_threshold=hub_threshold,
                options=settings.export_options(), lake=lake,
            )  # fmt: skip
            rate = f"online load, {load.orders_per_second:,.0f} orders/s"
        result.counts = graph_counts(driver)
        say(f"Loaded ({rate}); graph {result.counts}")

    with timed("analytics"):
        analytics.run_all(driver)

    with timed("snapshots"):
        # From the lake the load wrote in the same pass: the same frames Neo4j gives
        # (tests/loaders/test_lake.py), without reading 800k orders back over Bolt three times.
        train_snap = read_lake_snapshot(lake, TRAIN_AS_OF, horizon_days=settings.horizon_days)
        test_snap = read_lake_snapshot(lake, TEST_AS_OF, horizon_days=settings.horizon_days)
        score_snap = read_lake_snapshot(lake, SCORE_AS_OF, horizon_days=settings.horizon_days)

    with timed(f"evaluate (1 seed, {DEMO_FOLDS} folds)"):
        # Lighter than `train`'s default (5 folds) to keep the demo within minutes; the same
        # fit-and-select code, and `tradegraph evaluate` runs the full comparison.
        say(f"evaluating with {DEMO_FOLDS} folds and 1 seed (train and evaluate default to 5)")
        config = EvaluationConfig(
            seeds=1, train_as_of=TRAIN_AS_OF, test_as_of=TEST_AS_OF,
            horizon_days=settings.horizon_days, selection=SelectionConfig(folds=DEMO_FOLDS),
        )  # fmt: skip
        evaluation = evaluate(train_snap, test_snap, config)
        result.evaluation_json = work_dir / "evaluation.json"
        result.evaluation_json.write_text(evaluation.to_json())
        say(format_table(evaluation))

    with timed("train"):
        # The champion, its fitted models and calibration are evaluate's: one choice per run.
        assert evaluation.selection is not None and evaluation.table_rows is not None
        artefact = train_models(
            train_snap, TRAIN_AS_OF, models_dir=models_dir,
            fitted=(evaluation.selection, evaluation.table_rows),
        )  # fmt: skip
        result.model_dir = getattr(artefact, "folder", None)

    with timed("score + write back"):
        freeze_long_lived()  # what the demo holds lives to its end; as `tradegraph score` does
        prepared = prepare_scores(artefact, score_snap, SCORE_AS_OF)
        scores = score_prepared(prepared)
        write_scores(driver, scores, SCORE_AS_OF, artefact.model_version)
        NeighbourhoodStore.write(prepared, settings.serving_dir)
        write_scores_csv(scores, work_dir / "scores.csv")
        result.top_risky = scores.head(10)

    with timed("clusters"):
        clusters.refresh_clusters(driver)

    with timed("report"):
        result.report_path = build_report(
            settings,
            driver,
            out=work_dir / "report",
            evaluation=result.evaluation_json,
            model=result.model_dir,
            test_as_of=str(TEST_AS_OF.date()),
            lake=lake,
        )
    (work_dir / "demo-timings.json").write_text(json.dumps(result.stage_seconds, indent=2))
    return result


class _Timer:
    def __init__(self, sink: dict[str, float], name: str) -> None:
        self.sink, self.name = sink, name

    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sink[self.name] = time.perf_counter() - self.started
