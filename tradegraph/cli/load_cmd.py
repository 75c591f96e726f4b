"""``tradegraph load`` (export -> Neo4j, online or bulk) and ``tradegraph analytics``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from tradegraph.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    EngineOption,
    SparkMasterOption,
    console,
    local_server_config,
    with_engine,
)
from tradegraph.cli.common import fail as _exit
from tradegraph.cli.common import progress as progress_display


def _reconciliation(result) -> Table:
    table = Table(title=f"load {result.run_id}")
    for column in ("table", "read", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for name, counts in [*result.tables.items(), ("total", result.total)]:
        table.add_row(
            name,
            *(
                f"{getattr(counts, c):,}"
                for c in ("read", "inserted", "updated", "unchanged", "rejected")
            ),
        )
    return table


def load(
    export: Annotated[
        Path,
        typer.Argument(
            help="Export folder (businesses, transactions, outcomes); with --bulk --engine "
            "spark, a Parquet lake (`validate --lake`) instead."
        ),
    ],
    batch_size: Annotated[
        int | None, typer.Option(help="Rows per write transaction (default: settings).")
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Hash identifiers with the public demo key (synthetic data only).")
    ] = False,
    bulk: Annotated[
        bool, typer.Option(help="First load into an EMPTY local database via neo4j-admin import.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Folder for rejected rows (default: EXPORT/rejects).")
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="With --bulk: replace a local database that holds data (its data is lost)."
        ),
    ] = False,
    lake: Annotated[
        Path | None,
        typer.Option(help="Also write the kept rows to this Parquet lake, in the same pass."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Validate EXPORT and load it into Neo4j: exact, idempotent, safe to re-run after a crash."""
    from graph.load import load_export
    from graph.schema import KeyFingerprintMismatchError
    from loaders.lake import LakeError
    from tradegraph.cli.common import open_driver
    from tradegraph.settings import MissingHashKeyError, get_settings

    settings = with_engine(get_settings(), engine, spark_master)
    if bulk and settings.engine == "spark":
        _bulk_load_lake(settings, export, overwrite=overwrite)
        return
    if not export.is_dir():
        _exit(
            f"{export} is not a folder: pass the export folder (see docs for its layout).",
            EXIT_USAGE,
        )
    try:
        key = settings.identifier_key(demo=demo)
    except MissingHashKeyError as error:
        _exit(str(error), EXIT_USAGE)
    rejects_dir = rejects or export / "rejects"
    if bulk:
        from graph.server.errors import Neo4jSetupError

        if lake is not None:
            _exit("--lake goes with the online load; write the lake with `validate --lake`.")

        try:
            _bulk_load(settings, export, key, rejects_dir, overwrite=overwrite)
        except Neo4jSetupError as error:
            _exit(str(error), EXIT_USAGE)
        return
    driver = open_driver(settings)
    try:
        with progress_display(unit="rows", rate=True) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(table: str, rows: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=None, rate="-")
                task_id = tasks[table]
                progress.advance(task_id, rows)
                task = progress.tasks[task_id]
                if task.elapsed:
                    progress.update(task_id, rate=f"{task.completed / task.elapsed:,.0f}")

            result = load_export(
                driver,
                export,
                key,
                rejects_dir=rejects_dir,
                batch_size=batch_size or settings.batch_size,
                hub_threshold=settings.hub_threshold,
                progress=advance,
                database=settings.neo4j_database,
                options=settings.export_options(),
                lake=lake,
            )
    except (KeyFingerprintMismatchError, LakeError) as error:
        _exit(str(error), EXIT_USAGE)
    finally:
        driver.close()
    console.print(_reconciliation(result))
    total = result.total
    console.print(
        f"read {total.read:,} = inserted {total.inserted:,} + updated {total.updated:,} + "
        f"unchanged {total.unchanged:,} + rejected {total.rejected:,}  "
        f"({result.orders_per_second:,.0f} orders/s, {result.seconds:.1f}s)"
    )
    for problem in result.problems[:20]:
        console.print(f"[yellow]{problem}[/yellow]")
    if not result.reconciles:
        _exit(
            "The counts do not reconcile; re-run the load (it is safe) and report this.",
            EXIT_FAILURE,
        )


def _bulk_load(settings, export: Path, key: bytes, rejects_dir: Path, *, overwrite: bool) -> None:
    """Check the target, validate, write import CSVs, stop the local server, import (which
    checks again), start it again (``graph.bulk.bulk_load_export``)."""
    from graph.bulk import bulk_load_export

    if settings.neo4j_uri:
        _exit("--bulk works only on the local server: unset NEO4J_URI, or load online.", EXIT_USAGE)
    result, report = bulk_load_export(
        local_server_config(settings), export, key, rejects_dir=rejects_dir,
        options=settings.export_options(), hub_threshold=settings.hub_threshold,
        overwrite=overwrite, say=console.print,
    )  # fmt: skip
    console.print(report.render())
    console.print(
        f"imported {result.nodes:,} nodes and {result.relationships:,} relationships "
        f"({result.orders:,} orders, {result.orders / max(result.seconds, 1e-9):,.0f} orders/s)"
    )


def _bulk_load_lake(settings, lake: Path, *, overwrite: bool) -> None:
    """``load LAKE --bulk --engine spark``: Spark writes the import files from a validated
    lake, then the guarded import (``graph.bulk_spark.bulk_load_lake``)."""
    from graph.bulk_spark import bulk_load_lake
    from graph.server.errors import Neo4jSetupError
    from loaders.lake import LakeError
    from loaders.spark.session import SparkOptions, buckets, spark_session

    if settings.neo4j_uri:
        _exit("--bulk works only on the local server: unset NEO4J_URI, or load online.", EXIT_USAGE)
    options = SparkOptions(master=settings.spark_master, driver_memory=settings.spark_memory)
    spark = spark_session(options)
    try:
        result = bulk_load_lake(
            local_server_config(settings), lake, spark, buckets=buckets(options, spark),
            hub_threshold=settings.hub_threshold, overwrite=overwrite, say=console.print,
        )  # fmt: skip
    except (Neo4jSetupError, LakeError) as error:
        _exit(str(error), EXIT_USAGE)
    console.print(
        f"imported {result.nodes:,} nodes and {result.relationships:,} relationships "
        f"({result.orders:,} orders) from the lake {lake}"
    )


def analytics(
    only: Annotated[
        list[str] | None,
        typer.Option(help="Run only these (degree_strength, pagerank, identifier_wcc, louvain)."),
    ] = None,
) -> None:
    """Compute all-time graph analytics and write them to Business nodes (GDS or networkx)."""
    from graph.analytics import ANALYTICS, has_gds, run_all
    from tradegraph.cli.common import open_driver
    from tradegraph.settings import get_settings

    unknown = sorted(set(only or []) - set(ANALYTICS))
    if unknown:
        _exit(f"Unknown analytics {unknown}; choose from {sorted(ANALYTICS)}.", EXIT_USAGE)
    settings = get_settings()
    driver = open_driver(settings)
    try:
        engine = "GDS" if has_gds(driver, database=settings.neo4j_database) else "networkx fallback"
        console.print(f"analytics via {engine}")
        run_all(
            driver,
            database=settings.neo4j_database,
            only=only,
            progress=lambda name, s: console.print(f"{name}: {s:.2f}s"),
        )
    finally:
        driver.close()


def register(app: typer.Typer) -> None:
    """Add ``load`` and ``analytics`` to the app."""
    app.command("load")(load)
    app.command("analytics")(analytics)
