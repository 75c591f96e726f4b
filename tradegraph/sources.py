"""Where a command reads its point-in-time frames: the Neo4j graph, or a Parquet lake.

Both give the same frames for the same rows (``tests/loaders/test_lake.py``): Neo4j through
``graph.snapshot`` over Bolt, the lake through ``loaders.lake`` straight from Parquet, which is
the faster path for large histories and the one Spark and notebooks share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from gnn.data import Frames
from tradegraph.settings import Settings


def iter_frames(
    settings: Settings,
    dates: Sequence[pd.Timestamp],
    *,
    lake: Path | None = None,
    open_driver: Callable[[Settings], object] | None = None,
) -> Iterator[tuple[pd.Timestamp, Frames]]:
    """``(date, snapshot)`` for each of ``dates`` in turn, so only one is held at a time: from
    ``lake`` when given (commands pass ``--lake`` or ``settings.lake``), cut by Spark when
    ``settings.engine`` is ``spark``, else from Neo4j through one driver from
    ``open_driver``, closed at the end."""
    if settings.engine == "spark":
        yield from _spark_frames(settings, dates, lake)
        return
    if lake is not None:
        from loaders.lake import read_lake_snapshot

        for d in dates:
            yield d, read_lake_snapshot(lake, d, horizon_days=settings.horizon_days)
        return
    from graph.snapshot import read_snapshot

    if open_driver is None:
        raise ValueError("reading from Neo4j needs open_driver")
    driver = open_driver(settings)
    try:
        for d in dates:
            yield (
                d,
                read_snapshot(
                    driver,  # type: ignore[arg-type]
                    d,
                    database=settings.neo4j_database,
                    horizon_days=settings.horizon_days,
                ),
            )
    finally:
        driver.close()  # type: ignore[attr-defined]


def _spark_frames(
    settings: Settings, dates: Sequence[pd.Timestamp], lake: Path | None
) -> Iterator[tuple[pd.Timestamp, Frames]]:
    """Snapshots cut from the lake by Spark; their features are computed by Spark too."""
    from loaders.lake import LakeError
    from loaders.spark.session import SparkOptions, buckets, spark_session
    from loaders.spark.snapshot import read_spark_snapshot

    if lake is None:
        raise LakeError(
            "the Spark engine reads the Parquet lake, not Neo4j: pass --lake ROOT (write one "
            "with `tradegraph validate EXPORT --lake ROOT`)"
        )
    options = SparkOptions(master=settings.spark_master, driver_memory=settings.spark_memory)
    spark = spark_session(options)
    for d in dates:
        snapshot = read_spark_snapshot(
            spark, lake, d, buckets=buckets(options, spark), horizon_days=settings.horizon_days
        )
        yield d, snapshot


def read_frames(
    settings: Settings,
    dates: Sequence[pd.Timestamp],
    *,
    lake: Path | None = None,
    open_driver: Callable[[Settings], object] | None = None,
) -> dict[pd.Timestamp, Frames]:
    """The snapshot at each of ``dates`` (see :func:`iter_frames`), all at once."""
    return dict(iter_frames(settings, dates, lake=lake, open_driver=open_driver))
