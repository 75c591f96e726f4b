"""``tradegraph report``: the HTML model report for a credit committee."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: <home>/report).")
    ] = None,
    evaluation: Annotated[
        Path | None,
        typer.Option(help="Evaluation JSON (default: the newest in <home>/runs)."),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Model folder (default: the latest in <home>/models).")
    ] = None,
    test_as_of: Annotated[
        str | None,
        typer.Option(help="Test cohort date for PSI and grades (default: the evaluation's)."),
    ] = None,
    graph: Annotated[
        bool, typer.Option(help="Read clusters and cohorts from Neo4j (--no-graph: files only).")
    ] = True,
    lake: Annotated[
        Path | None, typer.Option(help="Read the cohorts from this Parquet lake, not Neo4j.")
    ] = None,
) -> None:
    """Write the HTML model report: ROC/PR/KS/calibration charts, metrics, scores by grade,
    PSI between the training and test cohorts, top suspicious clusters and the model card."""
    from loaders.lake import LakeError
    from tradegraph.cli.common import console, fail, open_driver
    from tradegraph.report.build import build_report
    from tradegraph.settings import get_settings

    settings = get_settings()
    lake = lake or settings.lake
    driver = open_driver(settings) if graph else None
    try:
        with console.status("building the report") as status:
            path = build_report(
                settings, driver, out=out, evaluation=evaluation, model=model,
                test_as_of=test_as_of, say=status.update, lake=lake,
            )  # fmt: skip
    except (ValueError, LakeError) as err:
        fail(str(err))
    finally:
        if driver is not None:
            driver.close()
    console.print(f"report: [bold]{path}[/]")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the app."""
    app.command("report")(report_command)
