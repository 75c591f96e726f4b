"""``tradegraph snapshot``: write the point-in-time frames and features of score dates as
Parquet, for notebooks and other tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradegraph.cli.common import EngineOption, SparkMasterOption, as_of_date, with_engine

if TYPE_CHECKING:
    import pandas as pd

    from gnn.evaluate import FeatureSet

FRAMES = ("businesses", "identifiers", "orders", "outcomes", "credit_events")


def snapshot_command(
    as_of: Annotated[str, typer.Option(help="Score date D: everything strictly before D.")],
    out: Annotated[Path, typer.Option(help="Folder for as_of=<date>/<frame>.parquet.")],
    lake: Annotated[
        Path | None,
        typer.Option(help="Read from this Parquet lake (`validate --lake`) instead of Neo4j."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
    stack_months: Annotated[
        int, typer.Option(min=0, help="Also write the N month-starts before --as-of.")
    ] = 0,
) -> None:
    """Write, for each score date, the contract frames as they stood (businesses, identifiers,
    orders, outcomes, credit events) and every feature (own and counterparty, one row per
    business) as Parquet under OUT/as_of=<date>/, with an about.json saying where they came
    from."""
    from gnn.evaluate import FeatureSet
    from loaders.lake import LakeError
    from tradegraph.cli.common import configure_torch, console, earlier_months, fail, open_driver
    from tradegraph.cli.common import progress as progress_display
    from tradegraph.settings import get_settings
    from tradegraph.sources import iter_frames

    settings = with_engine(get_settings(), engine, spark_master)
    lake = lake or settings.lake
    configure_torch(settings)
    d = as_of_date(as_of)
    dates = [*reversed(earlier_months(d, stack_months)), d]
    features = FeatureSet.default()
    source = f"lake {lake}" if lake is not None else f"Neo4j {settings.neo4j_uri or '(local)'}"
    source += " (Spark)" if settings.engine == "spark" else ""
    with progress_display() as bar:
        task = bar.add_task(f"snapshots from {source}", total=len(dates))
        try:
            for date, frames in iter_frames(settings, dates, lake=lake, open_driver=open_driver):
                _write_snapshot(out / f"as_of={date.date()}", frames, date, features, source)
                bar.advance(task)
        except LakeError as error:
            fail(str(error))
    console.print(f"wrote {len(dates)} snapshot(s) under {out}")


def _write_snapshot(
    folder: Path, frames: Any, date: pd.Timestamp, features: FeatureSet, source: str
) -> None:
    """One date's frames, features and about.json under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FRAMES:
        getattr(frames, name).to_parquet(folder / f"{name}.parquet", index=False)
    table = features.frame(frames, date)
    table.reset_index().to_parquet(folder / "features.parquet", index=False)
    rows = {n: len(getattr(frames, n)) for n in FRAMES} | {"features": len(table)}
    about = {
        "as_of": str(date.date()),
        "source": source,
        "rows": rows,
        "own_features": features.own,
        "counterparty_features": features.counterparty,
    }
    (folder / "about.json").write_text(json.dumps(about, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Add ``snapshot`` to the app."""
    app.command("snapshot")(snapshot_command)
