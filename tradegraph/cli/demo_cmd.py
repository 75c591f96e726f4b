"""``tradegraph demo``: the main job, end to end on the local Neo4j."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tradegraph.cli.common import configure_torch, console, fail, local_server_config, open_driver
from tradegraph.settings import get_settings


def demo(
    businesses: Annotated[
        int, typer.Option("--businesses", "-n", help="Size of the marketplace.")
    ] = 10_000,
    seed: Annotated[
        int | None, typer.Option(help="Seed for generation and training (default: settings).")
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", help="Where the export, scores and report go (default <home>/demo)."
        ),
    ] = None,
    browser: Annotated[
        bool,
        typer.Option(
            "--browser", help="Start the local server with Neo4j Browser (fresh start only)."
        ),
    ] = False,
) -> None:
    """Generate a marketplace, load it into Neo4j, train, score, find clusters, report.

    Uses the public demo key for identifiers (synthetic data only). Evaluates with one seed
    and three folds to stay within a few minutes; `tradegraph evaluate` runs the full
    comparison (five seeds, five folds).
    """
    from graph.server import local
    from graph.server.errors import Neo4jSetupError
    from tradegraph.demo import BROWSER_QUERIES, DemoRefused, check_target_database, run_demo

    settings = get_settings()
    configure_torch(settings)
    seed = settings.seed if seed is None else seed
    work_dir = (work_dir or settings.home / "demo").resolve()
    if browser and not settings.neo4j_uri:
        try:
            info = local.start(local_server_config(settings, browser=True), say=console.print)
        except Neo4jSetupError as err:
            fail(str(err))
        if info.browser_url:
            console.print(f"Neo4j Browser: {info.browser_url} (user neo4j)")
    driver = open_driver(settings)
    try:
        try:
            check_target_database(driver, external=bool(settings.neo4j_uri))
        except DemoRefused as err:
            fail(str(err))
        with console.status("") as status:
            result = run_demo(
                driver,
                settings,
                work_dir=work_dir,
                models_dir=settings.models_dir,
                key=settings.identifier_key(demo=True),
                businesses=businesses,
                seed=seed,
                batch_size=settings.batch_size,
                hub_threshold=settings.hub_threshold,
                say=console.print,
                stage=lambda name: status.update(f"[bold]demo[/]: {name}..."),
                local_server=(
                    None if settings.neo4j_uri else local_server_config(settings, browser=browser)
                ),
            )
    finally:
        driver.close()

    timings = Table(title=f"Demo stages ({result.total_seconds:,.0f}s in all)")
    timings.add_column("stage")
    timings.add_column("seconds", justify="right")
    for name, seconds in result.stage_seconds.items():
        timings.add_row(name, f"{seconds:,.1f}")
    console.print(timings)

    top = Table(title="Top-10 riskiest SMEs (as of 2026-01-01)")
    for column in ("business", "PD", "score", "grade", "reasons"):
        top.add_column(column)
    for row in result.top_risky.itertuples():
        top.add_row(
            row.business_id,
            f"{row.pd:.1%}",
            str(row.score),
            str(row.grade),
            "\n".join(row.reasons[:4]),
        )
    console.print(top)
    console.print(f"Report: [bold]{result.report_path}[/]")
    console.print("Try these in Neo4j Browser (`tradegraph neo4j start --browser`):")
    for title, query in BROWSER_QUERIES:
        console.print(f"\n[bold]// {title}[/]\n{query}")


def register(app: typer.Typer) -> None:
    """Add ``tradegraph demo``."""
    app.command("demo")(demo)
