"""``tradegraph validate EXPORT``: check an export against the input format, report by reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from loaders.lake import LakeError
from loaders.validate import ExportStructureError, validate_export
from tradegraph.cli.common import EXIT_FAILURE, EXIT_USAGE
from tradegraph.cli.common import progress as progress_display
from tradegraph.settings import MissingHashKeyError, get_settings

_console = Console(stderr=True)


def validate(
    export: Annotated[Path, typer.Argument(help="Export folder (businesses, transactions, ...).")],
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Folder for <table>.rejects.csv and report.json "
            "(default: <home>/runs/validate-<UTC time>).",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Hash identifiers with the public demo key (synthetic data only)."
        ),
    ] = False,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk (bounds memory).")] = 200_000,
    lake: Annotated[
        Path | None,
        typer.Option(
            help="Also write the kept rows (normalised, hashed) to this Parquet lake, orders "
            "partitioned by month, for `snapshot --lake`, Spark and notebooks."
        ),
    ] = None,
) -> None:
    """Validate EXPORT against the input format (docs/input-format.md).

    Structural problems stop with exit code 2 and write nothing; rejected rows go to the
    rejects folder with their line and reason, and the run goes on (exit code 0).
    """
    settings = get_settings()
    try:
        key = settings.identifier_key(demo=demo)
    except MissingHashKeyError as error:
        _console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(EXIT_USAGE) from None
    if rejects is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        rejects = settings.runs_dir / f"validate-{stamp}"
    with progress_display(unit="rows", transient=True, stderr=True) as progress:
        task = progress.add_task("validating", total=None)

        def on_progress(table: str, rows: int) -> None:
            progress.update(task, description=f"validating {table}", completed=rows)

        try:
            report = validate_export(
                export,
                key,
                rejects_dir=rejects,
                options=settings.export_options(),
                chunk_rows=chunk_rows,
                on_progress=on_progress,
                lake=lake,
            )
        except (ExportStructureError, LakeError) as error:
            progress.stop()
            _console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(EXIT_USAGE) from None
    out = Console()
    out.print(report.to_rich_table())
    if report.ignored_files:
        out.print(f"ignored files: {', '.join(report.ignored_files)}")
    for table in report.tables.values():
        if table.extra_columns:
            out.print(
                f"{table.table}: extra columns carried through: {', '.join(table.extra_columns)}"
            )
        if table.hashed_columns:
            out.print(
                f"{table.table}: extra columns that look like personal data, carried hashed: "
                f"{', '.join(table.hashed_columns)}"
            )
    out.print(f"key fingerprint {report.key_fingerprint}; report and rejects in {rejects}")
    if lake is not None:
        out.print(f"kept rows written to the lake {lake} (read it with `tradegraph snapshot`)")
    if not report.reconciles():  # pragma: no cover - a bug, not an input problem
        _console.print("[red]error:[/red] counts do not reconcile; please report this bug.")
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the app."""
    app.command("validate")(validate)
