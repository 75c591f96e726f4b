"""Where a command reads its point-in-time frames: the Neo4j graph, or a Parquet lake.

Both give the same frames for the same rows (``tests/loaders/test_lake.py``): Neo4j through
``graph.snapshot`` over Bolt, the lake through ``loaders.lake`` straight from Parquet, which is
the faster path for large histories and the one Spark and notebooks share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from gnn.data import Frames
from tradegraph.settings import Settings


def read_frames(
    settings: Settings,
    dates: Sequence[pd.Timestamp],
    *,
    lake: Path | None = None,
    open_driver: Callable[[Settings], object] | None = None,
) -> dict[pd.Timestamp, Frames]:
    """The snapshot at each of ``dates``, from ``lake`` (default: ``settings.lake``) when
    there is one, else from Neo4j (a driver from ``open_driver``, closed afterwards)."""
    lake = lake or settings.lake
    if lake is not None:
        from loaders.lake import read_lake_snapshot

        return {d: read_lake_snapshot(lake, d) for d in dates}
    from graph.snapshot import read_snapshot

    if open_driver is None:
        raise ValueError("reading from Neo4j needs open_driver")
    driver = open_driver(settings)
    try:
        return {
            d: read_snapshot(driver, d, database=settings.neo4j_database)  # type: ignore[arg-type]
            for d in dates
        }
    finally:
        driver.close()  # type: ignore[attr-defined]
