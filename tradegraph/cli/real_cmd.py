"""``tradegraph import-real``: convert a public dataset into a marketplace export."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from loaders.real import CONVERTERS, ConversionReport, RealDataError
from loaders.real.common import REPORT_FILE, existing_tables
from tradegraph.cli.common import EXIT_FAILURE, EXIT_USAGE

console = Console()


class Dataset(StrEnum):
    """Datasets ``import-real`` knows (folders of ../shared/data)."""

    bitcoin_otc = "bitcoin-otc"
    ethereum_phishing = "ethereum-phishing"


def import_real(
    dataset: Annotated[Dataset, typer.Argument(help="Which public dataset SRC holds.")],
    src: Annotated[
        Path, typer.Argument(help="The dataset's folder, e.g. ../shared/data/bitcoin-otc.")
    ],
    out: Annotated[
        Path, typer.Argument(help="Folder to write the export to (created if missing).")
    ],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace tables already in OUT instead of refusing.")
    ] = False,
) -> None:
    """Convert a public dataset into the input contract, labels as fraud outcomes.

    Writes OUT/businesses.csv, transactions.csv, outcomes.csv and import-report.json, then
    prints how the source rows reconcile with the rows written and dropped (by reason).
    """
    if not src.is_dir():
        _fail(
            f"{src} is not a folder: pass the {dataset.value} folder, "
            f"e.g. ../shared/data/{dataset.value}."
        )
    already = existing_tables(out)
    if already and not overwrite:
        names = ", ".join(path.name for path in already)
        _fail(f"{out} already holds {names}: pick an empty folder or pass --overwrite.")
    try:
        with console.status(f"Converting {dataset.value} from {src} ..."):
            report = CONVERTERS[dataset.value](src, out)
    except RealDataError as error:
        _fail(str(error))
    print_reconciliation(report)
    if not report.reconciles():
        console.print("[red]Row counts do not reconcile; the export is incomplete.[/red]")
        raise typer.Exit(EXIT_FAILURE)


def print_reconciliation(report: ConversionReport) -> None:
    """Per source file: rows read = rows written to its table + rows dropped, with reasons."""
    table = Table(title=f"{report.dataset}: source rows vs written rows", box=box.SIMPLE)
    for column in ("source file", "read", "table", "written", "dropped", "ok"):
        left = column in ("source file", "table")
        table.add_column(column, justify="left" if left else "right", no_wrap=True, min_width=3)
    for name, read in report.source_rows.items():
        target = report.feeds[name]
        written = report.written_rows.get(target, 0)
        dropped = report.dropped_total(name)
        table.add_row(
            name, f"{read:,}", target, f"{written:,}", f"{dropped:,}",
            "yes" if read == written + dropped else "[red]NO[/red]",
        )  # fmt: skip
    console.print(table)
    for name, reasons in report.dropped.items():
        for reason, count in reasons.items():
            if count:
                console.print(f"  dropped from {name}: {count:,} {reason}")
    console.print(f"  businesses written: {report.written_rows.get('businesses', 0):,}")
    for key, value in report.notes.items():
        console.print(f"  {key}: {value:,}" if isinstance(value, int) else f"  {key}: {value}")
    console.print(f"Export written to {report.out} (details in {REPORT_FILE}).")


def _fail(message: str) -> NoReturn:
    """Print a message a user can act on and exit with code 2 (bad input)."""
    console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    """Add ``import-real`` to the app."""
    app.command("import-real")(import_real)
