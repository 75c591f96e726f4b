"""``tradegraph score``: scores, grades and reasons of every SME written back to Neo4j with
history (and optionally to a CSV file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradegraph.cli.common import EngineOption, SparkMasterOption, as_of_date, with_engine

if TYPE_CHECKING:
    import pandas as pd

    from graph.score_runs import ScoreRun
    from tradegraph.settings import Settings


def score_command(
    as_of: Annotated[str, typer.Option(help="Score date: features use data strictly before it.")],
    model: Annotated[
        Path | None, typer.Option(help="Model folder (default: the latest in --models-dir).")
    ] = None,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where to look for the latest model.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write business_id, pd, score, grade and the reasons here."),
    ] = None,
    write_back: Annotated[
        bool, typer.Option("--write/--no-write", help="Write scores to Neo4j.")
    ] = True,
    lake: Annotated[
        Path | None,
        typer.Option(help="Read the snapshot from this Parquet lake (`validate --lake`)."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Score every SME registered before --as-of with the latest (or the named) model, write
    the scores with history to Neo4j and optionally to a CSV file."""
    from gnn.artefact import ArtefactError, latest_artefact, load_artefact
    from gnn.neighbourhood import NeighbourhoodStore
    from gnn.scoring import prepare_scores, score_prepared
    from loaders.lake import LakeError
    from tradegraph.cli.common import configure_torch, console, fail, open_driver, progress
    from tradegraph.long_lived import freeze_long_lived
    from tradegraph.settings import get_settings
    from tradegraph.sources import read_frames

    settings = with_engine(get_settings(), engine, spark_master)
    lake = lake or settings.lake
    configure_torch(settings)
    d = as_of_date(as_of)
    try:
        folder = model or latest_artefact(models_dir or settings.models_dir)
        artefact = load_artefact(folder)
    except ArtefactError as error:
        fail(str(error))
    source = f"the lake {lake}" if lake is not None else "Neo4j"
    source += " (Spark)" if settings.engine == "spark" else ""
    try:
        with console.status(f"reading the snapshot as of {d.date()} from {source}"):
            snapshot = read_frames(settings, [d], lake=lake, open_driver=open_driver)[d]
    except LakeError as error:
        fail(str(error))
    freeze_long_lived()  # the imports, model and snapshot live to the end of the run
    with progress() as bar:
        task = bar.add_task("scoring and explaining", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            prepared = prepare_scores(artefact, snapshot, d)
            scores = score_prepared(prepared, progress=tick, currency=settings.base_currency)
        except ValueError as error:
            fail(str(error))
    # What the API needs to score one business of this date from its neighbourhood.
    if NeighbourhoodStore.publish(prepared, settings.serving_dir) is not None:
        console.print(f"serving store for {d.date()} in {settings.serving_dir}")
    if write_back:
        _write_back(settings, scores, d, artefact.model_version)
    if out is not None:
        from tradegraph.exports import write_scores_csv

        written = write_scores_csv(scores, out)
        console.print(f"wrote {written} scores to {out}")
    console.print(f"scored {len(scores)} SMEs as of {d.date()} with {artefact.model_version}")


def _write_back(settings: Settings, scores: pd.DataFrame, d: pd.Timestamp, version: str) -> None:
    """Write ``scores`` with history to Neo4j as one score run, then show the latest grades."""
    from graph.score_runs import ScoreRunIncompleteError, latest_run
    from graph.scores import grade_counts, write_scores
    from tradegraph.cli.common import EXIT_FAILURE, console, fail, open_driver, progress

    driver = open_driver(settings)
    try:
        _say_incomplete(latest_run(driver, database=settings.neo4j_database))
        with progress() as bar:
            task = bar.add_task("writing scores to Neo4j", total=len(scores))
            try:
                result = write_scores(
                    driver, scores, d, version,
                    batch_size=settings.batch_size, writers=settings.score_writers,
                    database=settings.neo4j_database, progress=lambda n: bar.advance(task, n),
                )  # fmt: skip
            except ScoreRunIncompleteError as error:
                fail(str(error), EXIT_FAILURE)
        console.print(
            f"wrote {result.written} scores ({result.unknown} unknown businesses); "
            f"score run {result.run_id} complete"
        )
        counts = grade_counts(driver, database=settings.neo4j_database)
        console.print(
            "latest grades: "
            + ", ".join(
                f"{g}={n}" for g, n in zip(counts["grade"], counts["businesses"], strict=True)
            )
        )
    finally:
        driver.close()


def _say_incomplete(run: ScoreRun | None) -> None:
    """Warn when the latest score run did not finish: the book mixes two score dates."""
    from tradegraph.cli.common import console

    if run is not None and not run.complete:
        console.print(
            f"[yellow]warning:[/] the latest {run.describe()}; stored scores mix it with an "
            "earlier run until a run for that date completes (re-running the same score "
            "completes it)."
        )


def register(app: typer.Typer) -> None:
    """Add ``score`` to the app."""
    app.command("score")(score_command)
