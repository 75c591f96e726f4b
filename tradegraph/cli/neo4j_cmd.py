"""``tradegraph neo4j start|stop|status``: the local Neo4j server the project runs itself."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from graph.connection import Neo4jConnectionError, connect
from graph.server import local
from graph.server.errors import Neo4jSetupError
from tradegraph.cli.common import console, fail, local_server_config
from tradegraph.settings import get_settings

neo4j_app = typer.Typer(
    help=(
        "Run the local Neo4j Community 5.26 server (from Maven Central jars, no Docker). "
        "With NEO4J_URI set, tradegraph uses that server instead and these commands only "
        "report on it."
    ),
    no_args_is_help=True,
)


@neo4j_app.command()
def start(
    browser: Annotated[
        bool,
        typer.Option(
            "--browser", help="Also serve Neo4j Browser on http://127.0.0.1:<http port>/browser/."
        ),
    ] = False,
) -> None:
    """Start the local server (idempotent) and wait until it answers RETURN 1 over Bolt."""
    settings = get_settings()
    if settings.neo4j_uri:
        console.print(f"NEO4J_URI is set: using {settings.neo4j_uri}; nothing to start.")
        _check_remote()
        return
    config = local_server_config(settings, browser=browser)
    try:
        with console.status("Starting Neo4j (the first start downloads the jars)..."):
            info = local.start(config, say=console.print)
    except Neo4jSetupError as err:
        fail(str(err))
    if info.already_running:
        console.print(f"Neo4j already runs at [bold]{info.uri}[/] (pid {info.pid}).")
    else:
        console.print(
            f"Neo4j started at [bold]{info.uri}[/] in {info.startup_seconds:.1f}s (pid {info.pid})."
        )
    console.print(f"User neo4j; password in {config.data_dir / 'auth.json'}; log {info.log_file}")
    if info.browser_url:
        console.print(f"Neo4j Browser: {info.browser_url}")
    elif browser:
        console.print(
            "Neo4j Browser was requested but this server runs without it: "
            "`tradegraph neo4j stop`, then `tradegraph neo4j start --browser`."
        )


@neo4j_app.command()
def stop() -> None:
    """Stop the local server cleanly (it checkpoints first, so no write is lost)."""
    settings = get_settings()
    if settings.neo4j_uri:
        console.print(f"NEO4J_URI is set ({settings.neo4j_uri}): tradegraph did not start it.")
        return
    try:
        stopped = local.stop(local_server_config(settings))
    except Neo4jSetupError as err:
        fail(str(err), code=1)
    console.print("Neo4j stopped." if stopped else "No local Neo4j was running.")


@neo4j_app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Say which Neo4j tradegraph uses and whether it runs."""
    settings = get_settings()
    if settings.neo4j_uri:
        ok = _check_remote(quiet=as_json)
        report = {"mode": "external", "uri": settings.neo4j_uri, "running": ok}
    else:
        report = {"mode": "local", **local.status(local_server_config(settings))}
    if as_json:
        console.print_json(json.dumps(report))
        return
    if report["mode"] == "local":
        state = f"running (pid {report['pid']})" if report["running"] else "not running"
        console.print(f"Local Neo4j {report['version']}: {state}")
        console.print(f"  uri {report['uri']}, data {report['data_dir']}, log {report['log_file']}")
        if report.get("browser_url"):
            console.print(f"  browser {report['browser_url']}")


def _check_remote(*, quiet: bool = False) -> bool:
    settings = get_settings()
    password = settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
    try:
        connect(settings.neo4j_uri or "", settings.neo4j_user, password).close()
    except Neo4jConnectionError as err:
        fail(str(err))
    if not quiet:
        console.print(f"{settings.neo4j_uri} answers.")
    return True


def register(app: typer.Typer) -> None:
    """Add ``tradegraph neo4j ...``."""
    app.add_typer(neo4j_app, name="neo4j")
