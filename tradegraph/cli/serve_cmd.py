"""``tradegraph serve``: the scoring API (OpenAPI docs at /docs)."""

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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (one per core serves the most stored scores; each holds "
            "its own model and snapshot cache).",
        ),
    ] = 1,
) -> None:
    """Serve the scoring API (OpenAPI docs at /docs). Every route but /health needs the
    X-API-Key header with TRADEGRAPH_API_KEY."""
    import os

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
    if workers > 1:
        from tradegraph.api.workers import FACTORY, MODEL_ENV

        driver.close()  # each worker opens its own; the local server stays up
        if key is not None:
            os.environ["TRADEGRAPH_API_KEY"] = key
        if model is not None:
            os.environ[MODEL_ENV] = str(model.resolve())
        console.print(f"API docs: http://{host}:{port}/docs ({workers} workers)")
        uvicorn.run(FACTORY, factory=True, workers=workers, host=host, port=port, log_level="info")
        return
    try:
        app = create_app(driver, settings, model, api_key=key)
        console.print(f"API docs: http://{host}:{port}/docs")
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        driver.close()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the app."""
    app.command("serve")(serve_command)
