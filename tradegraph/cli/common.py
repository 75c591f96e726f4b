"""Helpers every CLI module shares: console, progress bars, errors, and the Neo4j driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import pandas as pd
import typer
from neo4j import Driver
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from graph.connection import Neo4jConnectionError, connect
from graph.server.errors import Neo4jSetupError
from graph.server.local import LocalServerConfig
from graph.server.local import start as start_local
from tradegraph.settings import Settings

console = Console()
err_console = Console(stderr=True)

#: Exit code for problems the user can fix (bad input, bad setup).
EXIT_USAGE = 2
#: The run finished and wrote its results, but part of the work was narrowed or skipped.
EXIT_PARTIAL = 3
#: Exit code for a run that failed on the way.
EXIT_FAILURE = 1


#: ``--engine``: what cuts snapshots from the lake and computes the features.
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="pandas (this process) or spark (reads --lake; local[*] unless --spark-master or "
        "SPARK_REMOTE says otherwise). Default: TRADEGRAPH_ENGINE, else pandas.",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master", help="Spark master URL for --engine spark (spark://, yarn, ...)."
    ),
]


def with_engine(settings: Settings, engine: str | None, spark_master: str | None) -> Settings:
    """``settings`` with the command line's engine choice applied."""
    update: dict[str, str] = {}
    if engine is not None:
        if engine not in ("pandas", "spark"):
            fail(f"--engine must be pandas or spark, not {engine!r}")
        update["engine"] = engine
    if spark_master is not None:
        update["spark_master"] = spark_master
    return settings.model_copy(update=update) if update else settings


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one clear message (no traceback) and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def progress(
    *, unit: str | None = None, rate: bool = False, transient: bool = False, stderr: bool = False
) -> Progress:
    """The one progress display every command uses: a spinner and the task's description,
    then a bar with done/total and time left (``unit=None``: tasks with a total) or a running
    count of ``unit`` (``"rows"``) with, when ``rate``, its rate per second (task field
    ``rate``), and the time elapsed. ``stderr`` keeps stdout for the command's output."""
    columns: list = [SpinnerColumn(), TextColumn("[progress.description]{task.description}")]
    if unit is None:
        columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    else:
        columns.append(TextColumn(f"{{task.completed:,.0f}} {unit}"))
        if rate:
            columns.append(TextColumn(f"[cyan]{{task.fields[rate]}} {unit}/s"))
        columns.append(TimeElapsedColumn())
    return Progress(*columns, console=err_console if stderr else console, transient=transient)


def local_server_config(settings: Settings, *, browser: bool = False) -> LocalServerConfig:
    """The local server's configuration from the settings."""
    return LocalServerConfig(
        data_dir=settings.local_data_dir,
        bolt_port=settings.neo4j_bolt_port,
        http_port=settings.neo4j_http_port,
        heap=settings.neo4j_heap,
        pagecache=settings.neo4j_pagecache,
        version=settings.neo4j_version,
        jar_cache=settings.jar_cache.expanduser(),
        java_home=settings.java_home,
        browser=browser,
    )


def open_driver(settings: Settings, *, start: bool = True) -> Driver:
    """A checked driver: to ``NEO4J_URI`` when it is set (nothing is started), otherwise to
    the local server, which is started first when ``start`` is true."""
    try:
        if settings.neo4j_uri:
            password = (
                settings.neo4j_password.get_secret_value() if settings.neo4j_password else None
            )
            return connect(settings.neo4j_uri, settings.neo4j_user, password)
        config = local_server_config(settings)
        if start:
            with console.status("Starting the local Neo4j server..."):
                info = start_local(config, say=console.print)
            return connect(info.uri, info.user, info.password, what="local server")
        from graph.server.local import read_password

        return connect(config.uri, "neo4j", read_password(config.data_dir), what="local server")
    except (Neo4jConnectionError, Neo4jSetupError) as err:
        fail(str(err))


@contextmanager
def driver_session(settings: Settings) -> Iterator[Driver]:
    """``with driver_session(settings) as driver:`` — opens and always closes the driver."""
    driver = open_driver(settings)
    try:
        yield driver
    finally:
        driver.close()


def configure_torch(settings: Settings) -> None:
    """Apply ``TRADEGRAPH_TORCH_THREADS`` before any model work.

    On a small machine shared with Neo4j, one thread is often several times faster than
    torch's default of one per core (threads wait on each other for a busy core).
    """
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)


def as_of_date(value: str) -> pd.Timestamp:
    """``--as-of`` as a UTC midnight; anything else is a usage error."""
    try:
        return pd.Timestamp(value, tz="UTC").normalize()
    except ValueError:
        fail(f"--as-of {value!r} is not a date: use YYYY-MM-DD")


def earlier_months(as_of: pd.Timestamp, months: int) -> list[pd.Timestamp]:
    """The ``months`` month-steps before ``as_of``, newest first: the extra score dates whose
    cohorts ``--stack-months`` stacks with the training date's."""
    return [as_of - pd.DateOffset(months=k) for k in range(1, months + 1)]
