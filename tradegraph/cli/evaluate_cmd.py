"""``tradegraph evaluate``: every model against the baselines, with intervals and one champion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from tradegraph.cli.common import EngineOption, SparkMasterOption, with_engine


def evaluate_command(
    train_as_of: Annotated[str, typer.Option(help="Score date D1 of the training cohort.")],
    test_as_of: Annotated[
        str | None, typer.Option(help="Score date D2 of the test cohort (temporal split).")
    ] = None,
    target: Annotated[str, typer.Option(help="Label: defaulted or fraud.")] = "defaulted",
    split: Annotated[
        str, typer.Option(help="temporal (D1 -> D2), given (outcomes' split column) or cv.")
    ] = "temporal",
    seeds: Annotated[int, typer.Option(min=1, help="Seeds (folds for cv); mean ± std.")] = 5,
    drop_feature: Annotated[
        list[str] | None, typer.Option(help="Feature column to hide from every model.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write all figures as JSON here.")
    ] = None,
    folds: Annotated[
        int, typer.Option(min=2, help="Cross-validation folds inside the training rows.")
    ] = 5,
    stack_months: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also train on the cohorts of the N monthly score dates before --train-as-of "
            "(temporal split; each read as of its own date).",
        ),
    ] = 0,
    allow_immature: Annotated[
        bool,
        typer.Option(
            "--allow-immature",
            help="Test less than the label horizon after the training date (optimistic).",
        ),
    ] = False,
    lake: Annotated[
        Path | None,
        typer.Option(help="Read snapshots from this Parquet lake (`validate --lake`), not Neo4j."),
    ] = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Compare (a) LightGBM own, (b) LightGBM own+counterparty, (c) GraphSAGE and (d) the
    hybrid on AUC, AUPRC, KS, Gini, Brier and recall in the riskiest 10%, overall and on the
    thin-file slice, with paired bootstrap intervals over test businesses and each model's
    lead over (b). The one champion is chosen by cross-validation inside the training rows."""
    from tradegraph.cli.common import (
        configure_torch,
        console,
        earlier_months,
        fail,
        open_driver,
    )
    from tradegraph.settings import get_settings

    if target not in ("defaulted", "fraud"):
        fail("--target must be defaulted or fraud", code=2)
    if split not in ("temporal", "given", "cv"):
        fail("--split must be temporal, given or cv", code=2)
    if split == "temporal" and test_as_of is None:
        fail("--split temporal needs --test-as-of (a later score date)", code=2)
    settings = with_engine(get_settings(), engine, spark_master)
    lake = lake or settings.lake
    configure_torch(settings)
    d1 = pd.Timestamp(train_as_of, tz="UTC")
    d2 = pd.Timestamp(test_as_of, tz="UTC") if test_as_of else None
    if d2 is not None and split == "temporal" and d2 <= d1:
        fail("--test-as-of must be after --train-as-of", code=2)

    from gnn.errors import ImmatureLabelsError
    from gnn.evaluate import EvaluationConfig, evaluate, format_table
    from gnn.selection import SelectionConfig
    from loaders.lake import LakeError
    from tradegraph.sources import read_frames

    if stack_months and split != "temporal":
        fail("--stack-months needs --split temporal", code=2)
    earlier = earlier_months(d1, stack_months)
    tested = d2 is not None and split == "temporal"
    dates = [d1, *earlier, *([d2] if tested else [])]
    source = f"the lake {lake}" if lake is not None else "Neo4j"
    source += " (Spark)" if settings.engine == "spark" else ""
    try:
        with console.status(f"reading {len(dates)} snapshot(s) from {source}"):
            frames = read_frames(settings, dates, lake=lake, open_driver=open_driver)
    except LakeError as error:
        fail(str(error))
    train, cohorts = frames[d1], {d: frames[d] for d in earlier}
    test = frames[d2] if tested and d2 is not None else None
    if train.outcomes.empty:
        fail(
            f"no labels at {d1.date()} in {source}: load outcomes dated {d1.date()}, or credit "
            f"events that reach {settings.horizon_days} days past it, first"
        )

    with console.status("evaluating") as status:
        try:
            config = EvaluationConfig(
                target=target,
                split=split,  # type: ignore[arg-type]
                seeds=seeds,
                train_as_of=d1,
                test_as_of=d2,
                horizon_days=settings.horizon_days,
                allow_immature=allow_immature,
                drop_features=tuple(drop_feature or ()),
                selection=SelectionConfig(folds=folds),
                train_dates=tuple(earlier),
            )
            result = evaluate(train, test, config, cohorts=cohorts, progress=status.update)
        except (KeyError, ValueError, ImmatureLabelsError) as error:
            fail(str(error), code=2)
    console.print(format_table(result), soft_wrap=True)
    console.print(
        f"counts: {result.counts}  peak RSS {result.peak_rss_mib:.0f} MiB  {result.seconds:.0f} s"
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.to_json())
        console.print(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the app."""
    app.command("evaluate")(evaluate_command)
