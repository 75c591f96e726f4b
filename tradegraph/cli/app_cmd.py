"""``tradegraph serve`` (the scoring API) and ``tradegraph report`` (the HTML model report)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Use a random API key, printed at start.")
    ] = False,
    model: Annotated[
        Path | None, typer.Option(help="Model folder for on-the-fly scores (default: latest).")
    ] = None,
) -> None:
    """Serve the scoring API (OpenAPI docs at /docs). Every route but /health needs the
    X-API-Key header with TRADEGRAPH_API_KEY."""
    import uvicorn

    from tradegraph.api import create_app
    from tradegraph.cli.common import console, fail, open_driver
    from tradegraph.settings import get_settings

    settings = get_settings()
    key = None
    if demo:
        key = secrets.token_urlsafe(24)
        console.print(f"demo API key (this run only): [bold]{key}[/]")
    elif settings.api_key is None:
        fail(
            "No API key: set TRADEGRAPH_API_KEY (e.g. in .env) to a long random secret, "
            "or run `tradegraph serve --demo` for a random key printed at start."
        )
    if model is not None and not (model / "meta.json").exists():
        fail(
            f"{model} is not a model folder (no meta.json): pass one written by `tradegraph train`"
        )
    driver = open_driver(settings)
    try:
        app = create_app(driver, settings, model, api_key=key)
        console.print(f"API docs: http://{host}:{port}/docs")
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        driver.close()


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
) -> None:
    """Write the HTML model report: ROC/PR/KS/calibration charts, metrics, scores by grade,
    PSI between the training and test cohorts, top suspicious clusters and the model card."""
    from tradegraph.cli.common import console, fail, open_driver
    from tradegraph.report.build import build_report
    from tradegraph.settings import get_settings

    settings = get_settings()
    driver = open_driver(settings) if graph else None
    try:
        with console.status("building the report") as status:
            path = build_report(
                settings, driver, out=out, evaluation=evaluation, model=model,
                test_as_of=test_as_of, say=status.update,
            )  # fmt: skip
    except ValueError as err:
        fail(str(err))
    finally:
        if driver is not None:
            driver.close()
    console.print(f"report: [bold]{path}[/]")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``report`` to the app."""
    app.command("serve")(serve_command)
    app.command("report")(report_command)
