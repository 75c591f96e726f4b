"""``tradegraph generate``: write a synthetic marketplace export (contract + ground truth)."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from loaders.synthetic import STAGES, SyntheticConfig, generate_marketplace, write_export
from tradegraph.cli.common import EXIT_USAGE
from tradegraph.cli.common import progress as progress_display

console = Console(stderr=True)


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the export into (created).")],
    businesses: Annotated[
        int, typer.Option("--businesses", "-n", help="Number of parties (SMEs, consumers, ...).")
    ] = SyntheticConfig.n_businesses,
    seed: Annotated[int, typer.Option(help="Random seed; same seed => same export.")] = (
        SyntheticConfig.seed
    ),
    fmt: Annotated[ExportFormat, typer.Option("--format", help="File format.")] = (
        ExportFormat.csv
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Write into OUT even if it already holds an export.")
    ] = False,
) -> None:
    """Generate a synthetic marketplace: businesses, transactions, outcomes, fx_rates and a
    ground_truth file (latent states, rings) that no model may read."""
    if out.exists() and not out.is_dir():
        console.print(f"[red]{out} is a file: give a folder to write the export into.[/red]")
        raise typer.Exit(EXIT_USAGE)
    if out.is_dir() and any(out.glob("businesses.*")) and not force:
        console.print(
            f"[red]{out} already holds an export: pick an empty folder or pass --force.[/red]"
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        config = SyntheticConfig(n_businesses=businesses, seed=seed)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_USAGE) from error

    started = time.perf_counter()
    with progress_display() as progress:
        task = progress.add_task("generating", total=len(STAGES) + 1)

        def step(stage: str) -> None:
            progress.update(task, description=stage, completed=STAGES.index(stage))

        market = generate_marketplace(config, progress=step)
        progress.update(task, description=f"writing {fmt.value}", completed=len(STAGES))
        paths = write_export(market, out, fmt.value)
        progress.update(task, description="done", completed=len(STAGES) + 1)

    elapsed = time.perf_counter() - started
    outcomes = market.outcomes
    console.print(
        f"Wrote {len(market.businesses):,} businesses, {len(market.transactions):,} "
        f"transactions and {len(outcomes):,} outcome rows "
        f"({outcomes['defaulted'].sum()} defaults, {outcomes['fraud'].sum()} fraud) "
        f"to {out} in {elapsed:.1f}s:"
    )
    for path in paths:
        console.print(f"  {path.name}")
    console.print("ground_truth is for evaluation only: never load it as a feature.")


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the app."""
    app.command("generate")(generate)
