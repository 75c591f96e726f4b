"""The bulk import's files written by Spark from the lake, in parallel.

At scale the first load is ``neo4j-admin database import full`` from files Spark writes: the
same files :func:`graph.bulk.write_import_csvs` writes, from the same row functions
(``graph.bulk.business_rows``, ``order_rows``, ... run per partition with ``mapInPandas``),
one folder per file (``header.csv`` with the typed header, then Spark's headerless
``part-*.csv``), imported by the same guarded :func:`graph.bulk.bulk_import`. Pair totals are
:func:`graph.pairs.pair_totals` per partition, combined per block of sellers with
:func:`graph.pairs.combine_pair_totals`. Later exports then load online, as daily increments.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from graph import bulk
from graph.pairs import PAIR_KEYS, TOTAL_COLUMNS, pair_totals, sum_pair_totals
from graph.server.errors import Neo4jSetupError
from loaders.columns import HUB_THRESHOLD, IDENTIFIER_COLUMNS

logger = logging.getLogger(__name__)

RowFunction = Callable[[pd.DataFrame], pd.DataFrame]


def _text(frame: pd.DataFrame, header: list[str]) -> pd.DataFrame:
    """Every column as text the way ``DataFrame.to_csv`` writes it (shortest round-trip
    floats, whole numbers for ``:long`` columns, missing values empty), so both writers'
    files read back the same."""
    out = pd.DataFrame(index=frame.index)
    for column, typed in zip(frame.columns, header, strict=True):
        values = frame[column]
        if typed.endswith(":long"):
            values = values.astype("Int64")
        missing = values.isna()
        text = values.astype(object).astype(str)
        out[column] = text.where(~missing, None).astype(object)
    return out


def _write(frame: Any, name: str, rows: RowFunction, csv_dir: Path, parts: int) -> None:
    """Spark ``frame`` through ``rows`` into ``parts`` files (written in parallel) under
    ``csv_dir/<name>/``."""
    header = bulk.IMPORT_FILES[name][0]
    columns = [f"c{i}" for i in range(len(header))]
    schema = ", ".join(f"{c} string" for c in columns)

    def partitions(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            if len(part):
                yield _text(rows(part), header).set_axis(columns, axis=1)

    folder = csv_dir / name
    (
        frame.repartition(parts)
        .mapInPandas(partitions, schema)
        .write.mode("overwrite")
        .option("header", False)
        .option("quote", '"')
        .option("escape", '"')
        .option("emptyValue", "")
        .csv(str(folder))
    )
    pd.DataFrame(columns=header).to_csv(folder / "header.csv", index=False)


def write_import_csvs_spark(
    spark: Any,
    lake: Path,
    csv_dir: Path,
    *,
    key_fingerprint: str,
    buckets: int,
    hub_threshold: int = HUB_THRESHOLD,
) -> None:
    """Write the import files for everything the lake at ``lake`` holds into ``csv_dir``
    (Spark names each part ``part-<n>-<uuid>-c000.csv``; the import itself counts the rows).
    Raises :class:`Neo4jSetupError` when a business has several versions (the import takes
    one node per business; load those online)."""
    from loaders.lake import lake_manifest
    from loaders.spark.snapshot import read_table

    exports = [e["export"] for e in lake_manifest(lake)["exports"]]
    tables = {
        name: read_table(spark, lake, name, exports)
        for name in ("businesses", "identifiers", "orders", "outcomes", "credit_events")
    }
    businesses = tables["businesses"]
    if businesses.count() != businesses.select("business_id").distinct().count():
        raise Neo4jSetupError(
            "The lake holds several versions (updated_at) of some businesses; the bulk import "
            "takes one row per business. Bulk-load the first versions, then load online."
        )
    if csv_dir.exists():
        shutil.rmtree(csv_dir)
    csv_dir.mkdir(parents=True)
    _write(businesses, "businesses", bulk.business_rows, csv_dir, buckets)
    _write(tables["credit_events"], "credit_events", bulk.credit_event_rows, csv_dir, buckets)
    _write(tables["credit_events"], "had_event", bulk.had_event_rows, csv_dir, buckets)
    ids = tables["identifiers"].select(*IDENTIFIER_COLUMNS).dropDuplicates()
    degree = ids.groupBy("id_type", "id_hash").count().withColumnRenamed("count", "degree")
    _write(
        degree, "identifiers", lambda d: bulk.identifier_rows(d, hub_threshold), csv_dir, buckets
    )
    _write(ids, "has_identifier", bulk.identifier_link_rows, csv_dir, buckets)
    info = bulk.schema_info_rows(key_fingerprint)
    info.set_axis(bulk.IMPORT_FILES["schema_info"][0], axis=1).to_csv(
        csv_dir / "schema_info.csv", index=False
    )
    _write(tables["outcomes"], "outcomes", bulk.outcome_rows, csv_dir, buckets)
    _write(tables["outcomes"], "has_outcome", bulk.has_outcome_rows, csv_dir, buckets)
    orders = tables["orders"]
    _write(orders, "sold_to", bulk.order_rows, csv_dir, buckets)
    _write(_pairs(orders, buckets), "trades_with", bulk.pair_rows, csv_dir, buckets)
    logger.info("import files written to %s by Spark", csv_dir)


def _pairs(orders: Any, buckets: int) -> Any:
    """``TRADES_WITH`` totals: per partition, then combined per block of sellers."""
    from pyspark.sql import functions as F

    from loaders.spark.blocks import map_blocks
    from loaders.spark.snapshot import utc

    schema = ("seller_id string, buyer_id string, orders long, gmv double, refunded long, "
              "disputed long, cancelled long, first_ts timestamp, last_ts timestamp")  # fmt: skip

    def partial(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            yield _naive(pair_totals(utc(part)))

    def combine(rows: pd.DataFrame) -> pd.DataFrame:
        return sum_pair_totals(rows[[*PAIR_KEYS, *TOTAL_COLUMNS]])

    partials = orders.mapInPandas(partial, schema)
    combined = map_blocks(partials, "seller_id", buckets, combine, schema)
    return combined.select(*(F.col(c) for c in [*PAIR_KEYS, *TOTAL_COLUMNS]))


def _naive(frame: pd.DataFrame) -> pd.DataFrame:
    from loaders.spark.snapshot import to_spark

    for column in ("first_ts", "last_ts"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(None)
    return to_spark(frame)


def bulk_load_lake(
    config: Any,
    lake: Path,
    spark: Any,
    *,
    buckets: int,
    hub_threshold: int = HUB_THRESHOLD,
    overwrite: bool = False,
    say: Any = logger.info,
) -> bulk.BulkResult:
    """The first load of a lake into the EMPTY database of the local server
    (``config``: :class:`graph.server.local.LocalServerConfig`): Spark writes the import
    files, then the guarded import of ``load --bulk`` (:func:`graph.bulk.import_and_start`).
    Raises :class:`Neo4jSetupError` when the database may not be replaced: nothing is written
    then."""
    from loaders.lake import lake_manifest

    bulk.guard_bulk_target(config, overwrite=overwrite)
    fingerprint = str(lake_manifest(lake)["key_fingerprint"])
    csv_dir = config.data_dir / "import" / "tradegraph-bulk"
    say("Spark is writing the import files ...")
    write_import_csvs_spark(
        spark, lake, csv_dir, key_fingerprint=fingerprint, buckets=buckets,
        hub_threshold=hub_threshold,
    )  # fmt: skip
    return bulk.import_and_start(config, csv_dir, fingerprint, overwrite=overwrite, say=say)
