"""``tradegraph query ...`` (the analysts' Cypher library) and ``tradegraph clusters ...``.

Every query runs in a read-only transaction with a timeout; parameters are checked against
the query's header. Errors a user can fix exit with code 2, runtime failures with 1.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import neo4j
import typer
from rich.console import Console
from rich.table import Table

from graph.browser_guide import export_browser
from graph.clusters import ClusterError, list_clusters, mark, refresh_clusters
from graph.query_library import (
    LibraryQuery,
    QueryLibraryError,
    QueryResult,
    adhoc_query,
    get_query,
    load_library,
    run_query,
)
from loaders.safe_csv import escape_cell
from tradegraph.cli.common import EXIT_FAILURE, EXIT_PARTIAL, EXIT_USAGE
from tradegraph.cli.common import progress as progress_display

FORMATS = ("table", "csv", "json")
_err = Console(stderr=True)

query_app = typer.Typer(
    help="Run the analysts' Cypher library (read-only): list, show, run, export to Browser.",
    no_args_is_help=True,
)
clusters_app = typer.Typer(
    help="Suspicious clusters as graph objects: find (default), list, show one, mark a verdict.",
    invoke_without_command=True,
)


@contextmanager
def _open_driver() -> Iterator[neo4j.Driver]:
    """The project's driver (``tradegraph.cli.common.open_driver``); tests swap this out."""
    from tradegraph.cli.common import open_driver
    from tradegraph.settings import get_settings

    with open_driver(get_settings()) as driver:
        yield driver


def _database() -> str | None:
    from tradegraph.settings import get_settings

    return get_settings().neo4j_database


def _horizon_days() -> int:
    from tradegraph.settings import get_settings

    return get_settings().horizon_days


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    _err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library, cluster and server errors into one message and an exit code."""
    try:
        yield
    except (QueryLibraryError, ClusterError) as error:
        raise _fail(str(error)) from None
    except neo4j.exceptions.ClientError as error:
        code = error.code or ""
        if code.endswith("AccessMode") or "Forbidden" in code:
            raise _fail(
                "The server refused a write: queries run read-only. Use the loading and "
                f"clusters commands to change the graph. ({error.message})"
            ) from None
        if "TransactionTimedOut" in code or "Terminated" in code:
            raise _fail(
                "The query ran past its timeout and was stopped; narrow it with parameters or "
                "raise --timeout.",
                EXIT_FAILURE,
            ) from None
        raise _fail(f"{error.message} ({code})") from None
    except neo4j.exceptions.ServiceUnavailable as error:
        raise _fail(
            f"Neo4j is not reachable ({error}); start it with `tradegraph neo4j start` or set "
            "NEO4J_URI."
        ) from None


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--param takes key=value, got {pair!r}.")
        params[key.strip()] = value
    return params


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render(result: QueryResult, fmt: str) -> str:
    """Rows of ``result`` as ``csv`` or ``json`` text (``table`` is printed with rich)."""
    if fmt == "json":
        return json.dumps(result.rows, indent=2, default=str)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.keys)
    for row in result.rows:
        writer.writerow([escape_cell(_cell(row[k])) for k in result.keys])
    return buffer.getvalue()


def _print_table(result: QueryResult) -> None:
    table = Table(title=f"{result.query}: {len(result.rows)} rows in {result.seconds:.2f}s")
    for key in result.keys:
        table.add_column(key, overflow="fold")
    for row in result.rows:
        table.add_row(*(_cell(row[k]) for k in result.keys))
    Console().print(table)


@query_app.command("list")
def list_queries() -> None:
    """List the library's queries with their parameters and stated time budget."""
    with _user_errors():
        library = load_library()
    table = Table(title="tradegraph query library (graph/queries)")
    for column in ("name", "finds", "parameters", "budget"):
        table.add_column(column, overflow="fold")
    for query in library.values():
        params = ", ".join(
            f"{p.name}={'<required>' if p.required else p.default}" for p in query.params
        )
        table.add_row(query.name, query.title, params, f"{query.seconds:g}s")
    Console().print(table)


@query_app.command("show")
def show_query(name: Annotated[str, typer.Argument(help="Query name (see `query list`).")]) -> None:
    """Show one query: what it finds, what a hit means, its parameters and its Cypher."""
    with _user_errors():
        query = get_query(name)
    out = Console()
    out.print(f"[bold]{query.name}[/bold]: {query.title}\n\n[b]Finds:[/b] {query.finds}\n")
    out.print(f"[b]A hit means:[/b] {query.hit}\n")
    for p in query.params:
        bounds = f" [{p.lo:g}..{p.hi:g}]" if p.lo is not None and p.hi is not None else ""
        default = "required" if p.required else json.dumps(p.default, default=str)
        out.print(f"  --param {p.name}=...  ({p.type}{bounds}, default {default}): {p.doc}")
    out.print(f"\nstated time on the default marketplace: {query.seconds:g}s", highlight=False)


@query_app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="Query name (see `query list`).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value, repeatable; checked against the header."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Run an ad-hoc .cypher file instead.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    timeout: Annotated[
        float | None,
        typer.Option(help="Seconds before the server stops the query (default: 3x its budget)."),
    ] = None,
) -> None:
    """Run a library query (or --file) in a read-only transaction and print its rows."""
    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if (name is None) == (file is None):
        raise _fail(
            "Give a query NAME or --file my.cypher (not both); see `tradegraph query list`."
        )
    values = _parse_params(param or [])
    with _user_errors():
        query: LibraryQuery = adhoc_query(file) if file is not None else get_query(str(name))
        query.bind(values)  # check parameters before touching the server
        with _open_driver() as driver:
            result = run_query(driver, query, values, database=_database(), timeout_s=timeout)
    if fmt == "table":
        _print_table(result)
    else:
        typer.echo(render(result, fmt), nl=fmt == "json")


@query_app.command("export-browser")
def export_browser_cmd(
    out: Annotated[Path, typer.Argument(help="Folder for the favourites zip and the guide.")],
) -> None:
    """Write Neo4j Browser favourites (zip) and a Browser guide generated from the library."""
    with _user_errors():
        paths = export_browser(out)
    for path in paths:
        Console().print(f"wrote {path}")


@clusters_app.callback()
def clusters_default(ctx: typer.Context) -> None:
    """Without a subcommand: find clusters and write them to the graph."""
    if ctx.invoked_subcommand is None:
        find()


@clusters_app.command("find")
def find() -> None:
    """Run the library's fraud queries, score suspicion, replace undecided :Cluster nodes."""
    with (
        _user_errors(),
        _open_driver() as driver,
        progress_display(unit="queries", transient=True, stderr=True) as progress,
    ):
        task = progress.add_task("finding clusters")
        outcome = refresh_clusters(
            driver,
            database=_database(),
            on_query=lambda q: progress.update(task, description=f"running {q}"),
            horizon_days=_horizon_days(),
        )
    table = Table(
        title=f"{len(outcome.clusters)} clusters written at {outcome.found_at:%Y-%m-%d %H:%M}Z"
    )
    for column in ("cluster_id", "kind", "size", "suspicion", "why"):
        table.add_column(column, overflow="fold")
    for cluster in outcome.clusters[:30]:
        table.add_row(
            cluster.cluster_id,
            cluster.kind,
            str(len(cluster.members)),
            f"{cluster.suspicion:.2f}",
            "; ".join(cluster.reasons),
        )
    out = Console()
    out.print(table)
    out.print(
        f"replaced {outcome.replaced} undecided clusters; {outcome.skipped_decided} already "
        "decided and not raised again"
    )
    for detector in outcome.detectors:
        if detector.status != "complete":
            _err.print(f"[yellow]{detector.status}:[/] {detector.describe()}")
    if outcome.partial:
        _err.print(
            "[yellow]partial run:[/] the clusters above were written, but a detector was "
            "narrowed or skipped; run it alone with `tradegraph query run NAME` and narrower "
            "parameters to see what it finds."
        )
        raise typer.Exit(EXIT_PARTIAL)


@clusters_app.command("list")
def list_cmd(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include decided clusters.")] = False,
    limit: Annotated[int, typer.Option(help="Most clusters shown.")] = 50,
) -> None:
    """List clusters in the graph, most suspicious first."""
    with _user_errors(), _open_driver() as driver:
        rows = list_clusters(
            driver, kind=kind, include_decided=all_, limit=limit, database=_database()
        )
    table = Table(title=f"{len(rows)} clusters")
    for column in ("cluster_id", "kind", "size", "suspicion", "verdict", "members"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["cluster_id"],
            row["kind"],
            str(row["size"]),
            f"{row['suspicion']:.2f}",
            row["verdict"] or "",
            ", ".join(row["members"][:12]),
        )
    Console().print(table)


@clusters_app.command("show")
def show_cmd(
    cluster_id: Annotated[str, typer.Argument(help="Cluster id (see `clusters list`).")],
    out: Annotated[
        Path | None, typer.Option(help="Folder for <id>.png and .html (default <home>/clusters).")
    ] = None,
) -> None:
    """Draw one cluster (members, shared identifiers, trade between them and its amounts) as
    a PNG and an HTML page to attach to a case."""
    from graph.clusters import cluster_picture
    from tradegraph.report.cluster_view import write_cluster_view
    from tradegraph.settings import get_settings

    settings = get_settings()
    with _user_errors(), _open_driver() as driver:
        picture = cluster_picture(driver, cluster_id, database=_database())
    png, page = write_cluster_view(
        picture, out or settings.home / "clusters", settings.base_currency
    )
    Console().print(
        f"{cluster_id}: {len(picture.members)} members, {len(picture.identifiers)} shared "
        f"identifiers, {len(picture.trade)} trading pairs; wrote {page} and {png}",
        highlight=False,
    )


@clusters_app.command("mark")
def mark_cmd(
    cluster_id: Annotated[str, typer.Argument(help="Cluster id (see `clusters list`).")],
    verdict: Annotated[str, typer.Argument(help="confirmed or dismissed.")],
    note: Annotated[str, typer.Option(help="Why: what the analyst checked.")],
    analyst: Annotated[
        str | None, typer.Option(help="Who decides (default: $TRADEGRAPH_ANALYST or login).")
    ] = None,
) -> None:
    """Record a verdict; a confirmed cluster becomes fraud_confirmed credit events."""
    who = analyst or os.environ.get("TRADEGRAPH_ANALYST") or getpass.getuser()
    with _user_errors(), _open_driver() as driver:
        result = mark(driver, cluster_id, verdict, note, who, database=_database())
    message = f"{result.cluster_id}: {result.verdict} by {who} ({len(result.members)} members)"
    if result.event_at is not None:
        message += (
            f"; {result.events_written} fraud_confirmed credit events at "
            f"{result.event_at:%Y-%m-%d %H:%M} UTC (labels for cohorts whose window holds "
            "that time; a known fact only for score dates after it)"
        )
    Console().print(message, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``query`` and ``clusters`` to the app."""
    app.add_typer(query_app, name="query")
    app.add_typer(clusters_app, name="clusters")
