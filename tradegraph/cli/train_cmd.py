"""``tradegraph train``: fit and select the champion, calibrate it and save it with its
model card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradegraph.cli.common import EngineOption, SparkMasterOption, as_of_date, with_engine


def train_command(
    as_of: Annotated[str, typer.Option(help="Score date D: train on the outcomes at D.")],
    models_dir: Annotated[
        Path | None, typer.Option(help="Where model folders go (default <home>/models).")
    ] = None,
    target: Annotated[str, typer.Option(help="Label: defaulted or fraud.")] = "defaulted",
    scale: Annotated[str, typer.Option(help="Score scale: default, 300-850 or 0-300.")] = "default",
    champion: Annotated[
        str,
        typer.Option(help="auto (best cross-validated AUC) or force one of the four models."),
    ] = "auto",
    folds: Annotated[
        int, typer.Option(min=2, help="Cross-validation folds inside the cohort.")
    ] = 5,
    allow_immature: Annotated[
        bool,
        typer.Option("--allow-immature", help="Train on a cohort whose labels are not yet mature."),
    ] = False,
    stack_months: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also train on the cohorts of the N month-starts before --as-of (each read as "
            "of its own date; labels from outcomes or credit events).",
        ),
    ] = 0,
    lake: Annotated[
        Path | None,
        typer.Option(help="Read snapshots from this Parquet lake (`validate --lake`), not Neo4j."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Train champion and baselines on the cohort at --as-of (cross-validation inside it,
    folds grouped by business), calibrate, and write the model folder with its model card."""
    from tradegraph.cli.common import (
        configure_torch,
        console,
        earlier_months,
        fail,
        open_driver,
    )
    from tradegraph.settings import get_settings

    if target not in ("defaulted", "fraud"):
        fail("--target must be defaulted or fraud")
    from gnn import distributed
    from gnn.errors import ImmatureLabelsError
    from gnn.scale import preset
    from gnn.scoring import TrainingConfig, TrainingDataError, train_models
    from gnn.selection import SelectionConfig
    from loaders.lake import LakeError
    from tradegraph.sources import read_frames

    try:
        score_scale = preset(scale)
    except ValueError as error:
        fail(str(error))
    settings = with_engine(get_settings(), engine, spark_master)
    lake = lake or settings.lake
    configure_torch(settings)
    distributed.init_from_env()
    writer = distributed.is_writer()
    d = as_of_date(as_of)
    folder = models_dir or settings.models_dir
    earlier = earlier_months(d, stack_months)
    source = f"the lake {lake}" if lake is not None else "Neo4j"
    source += " (Spark)" if settings.engine == "spark" else ""
    try:
        with console.status(f"reading {1 + len(earlier)} snapshot(s) from {source}"):
            frames = read_frames(settings, [d, *earlier], lake=lake, open_driver=open_driver)
    except LakeError as error:
        fail(str(error))
    snapshot, cohorts = frames[d], {e: frames[e] for e in earlier}
    if snapshot.outcomes.empty:
        fail(
            f"no labels at {d.date()} in {source}: load outcomes dated {d.date()}, or credit "
            f"events that reach {settings.horizon_days} days past it, then retrain"
        )
    with console.status("training") as status:
        try:
            config = TrainingConfig(
                target=target,
                horizon_days=settings.horizon_days,
                allow_immature=allow_immature,
                scale=score_scale,
                selection=SelectionConfig(folds=folds, champion=champion),
                train_dates=tuple(earlier),
            )
            artefact = train_models(
                snapshot, d, config, models_dir=folder if writer else None, cohorts=cohorts,
                progress=status.update,
            )  # fmt: skip
        except (TrainingDataError, ImmatureLabelsError, ValueError, KeyError) as error:
            fail(str(error))
    distributed.finish()
    if not writer:
        return
    metrics = artefact.metrics
    console.print(f"champion: [bold]{artefact.champion}[/]  model {artefact.model_version}")
    for name, values in metrics["out_of_fold"].items():
        console.print(
            f"  out of fold {name:<20} AUC {values['auc']:.3f}  AUPRC {values['auprc']:.3f}  "
            f"Brier {values['brier']:.4f}"
        )
    console.print(f"wrote {artefact.folder} (model card: {artefact.card_path})")


def register(app: typer.Typer) -> None:
    """Add ``train`` to the app."""
    app.command("train")(train_command)
