"""Point-in-time snapshots cut from the lake by Spark, under the rules every store obeys.

The rules are :mod:`loaders.point_in_time`'s, run unchanged on each hash-partitioned block of
businesses (:func:`loaders.spark.blocks.map_blocks`): a business's version in force and the
identifiers it carried depend on that business's rows only, and an order's status as of the
date on that order only. Spark adds what one process cannot: the reading, the superseding of
re-sent rows by later exports, the partition pruning and the shuffles. Small per-date tables
(outcomes, credit events) end on the driver, where :func:`loaders.lake.labelled_cohort`
labels the cohort as the pandas path does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from loaders.columns import (
    BUSINESS_COLUMNS,
    BUSINESS_VERSION,
    HORIZON_DAYS,
    IDENTIFIER_COLUMNS,
    ORDER_COLUMNS,
    as_utc,
)
from loaders.lake import (
    ARROW_SCHEMAS,
    EXPORT_COLUMN,
    ROW_KEYS,
    TIMESTAMPS,
    labelled_cohort,
    lake_manifest,
)
from loaders.point_in_time import (
    identifiers_in_force,
    status_as_of,
    trade_pairs,
    versions_in_force,
)
from loaders.spark.blocks import map_blocks


def spark_schema(table: str, *extra: pa.Field) -> Any:
    """The Spark schema of a lake table (``loaders.lake.ARROW_SCHEMAS``) plus ``extra``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = ARROW_SCHEMAS[table]
    for column in extra:
        schema = schema.append(column)
    return from_arrow_schema(schema)


def utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark hands pandas naive timestamps in the session's zone (UTC): mark them so."""
    for column in frame.columns:
        if column in TIMESTAMPS and frame[column].dt.tz is None:
            frame[column] = frame[column].dt.tz_localize("UTC")
    return frame


def read_table(spark: Any, root: Path, table: str, exports: list[int], where: Any = None) -> Any:
    """The rows of ``table`` from the committed ``exports``; a later export's row replaces an
    earlier one's with the same ``loaders.lake.ROW_KEYS`` (as :mod:`loaders.lake` reads)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    folder = Path(root) / table
    extra = [pa.field(EXPORT_COLUMN, pa.int64())]
    if table == "orders":
        extra.append(pa.field("month", pa.string()))
    schema = spark_schema(table, *extra)
    if not folder.exists() or not any(folder.rglob("*.parquet")):
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).parquet(str(folder))
    frame = frame.where(F.col(EXPORT_COLUMN).isin(exports))
    if where is not None:
        frame = frame.where(where)
    if table == "orders" and len(exports) == 1:
        # The validator keeps one row per txn_id in an export: nothing to supersede, and the
        # shuffle that would find out is the snapshot's most expensive step.
        return frame.drop(EXPORT_COLUMN, "month")
    latest = Window.partitionBy(*ROW_KEYS[table]).orderBy(F.col(EXPORT_COLUMN).desc())
    frame = frame.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1")
    return frame.drop("_rank", EXPORT_COLUMN, "month")


@dataclass
class SparkSnapshot:
    """The frames as of ``as_of`` with the big ones kept in Spark (``*_sdf``); the pandas
    frames of :class:`gnn.data.Frames` are collected on first use. ``buckets``: hash partitions
    of businesses the features run over."""

    as_of: pd.Timestamp
    businesses_sdf: Any
    identifiers_sdf: Any
    #: Orders placed before ``as_of`` between businesses in force, with their status as the
    #: lake holds it: ``loaders.point_in_time.status_as_of`` runs where they are read (here on
    #: collection, in the feature blocks), which saves Spark a pass over every order.
    orders_sdf: Any
    outcomes: pd.DataFrame
    credit_events: pd.DataFrame
    buckets: int
    _features: dict[tuple[Any, ...], pd.DataFrame] = field(default_factory=dict, repr=False)

    @cached_property
    def businesses(self) -> pd.DataFrame:
        frame = utc(self.businesses_sdf.toPandas())
        frame["employees"] = frame["employees"].astype("Int64")
        return frame[BUSINESS_COLUMNS].sort_values("business_id", ignore_index=True)

    @cached_property
    def identifiers(self) -> pd.DataFrame:
        frame = self.identifiers_sdf.toPandas()[IDENTIFIER_COLUMNS]
        return frame.sort_values(IDENTIFIER_COLUMNS, ignore_index=True)

    @cached_property
    def orders(self) -> pd.DataFrame:
        frame = status_as_of(utc(self.orders_sdf.toPandas()), self.as_of)[ORDER_COLUMNS]
        return frame.sort_values("txn_id", ignore_index=True)

    def trade_pairs(
        self, as_of: pd.Timestamp, *, since: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """:func:`loaders.point_in_time.trade_pairs` of these orders, aggregated by Spark per
        block of sellers (each pair's orders in one block, summed in ``txn_id`` order as
        the collected :attr:`orders` would be), so the driver receives pairs, not orders.
        Rows come in the order of each pair's first ``txn_id``, as from :attr:`orders`."""
        stamp = as_utc(as_of)
        start = None if since is None else as_utc(since)
        schema = "seller_id string, buyer_id string, gmv double, orders long, first_txn string"

        def per_block(rows: pd.DataFrame) -> pd.DataFrame:
            rows = rows.sort_values("txn_id", kind="stable")
            return trade_pairs(rows, stamp, since=start, first_txn=True)

        pairs = map_blocks(self.orders_sdf, "seller_id", self.buckets, per_block, schema)
        pairs = pairs.toPandas()
        pairs = pairs.sort_values("first_txn", kind="stable", ignore_index=True)
        return pairs.drop(columns="first_txn").astype({"orders": "int64"})

    def first_order_at(self) -> pd.Timestamp | None:
        """When the first of these orders was placed (None without orders), from Spark."""
        from pyspark.sql import functions as F

        first = self.orders_sdf.agg(F.min("ts")).first()[0]
        return None if first is None else as_utc(pd.Timestamp(first))

    def compute_features(self, as_of: pd.Timestamp, **options: Any) -> pd.DataFrame:
        """:func:`loaders.features.compute_features`' frame, computed by Spark (and kept, so
        each model of a run reads the same one); ``options`` as there."""
        from loaders.spark.features import spark_features

        if as_utc(as_of) != self.as_of:
            raise ValueError(f"this snapshot is as of {self.as_of.date()}, not {as_of}")
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        if key not in self._features:
            self._features[key] = spark_features(self, **options)
        return self._features[key]


def read_spark_snapshot(
    spark: Any,
    root: Path,
    as_of: pd.Timestamp | str,
    *,
    buckets: int,
    horizon_days: int = HORIZON_DAYS,
) -> SparkSnapshot:
    """The snapshot as of ``as_of`` (naive = UTC) cut from the lake at ``root`` by Spark: the
    frames :func:`loaders.lake.read_lake_snapshot` gives, with the big ones left in Spark."""
    from pyspark.sql import functions as F

    exports = [e["export"] for e in lake_manifest(Path(root))["exports"]]
    stamp = as_utc(as_of)
    at = F.lit(stamp.to_pydatetime())
    versions = read_table(spark, root, "businesses", exports)
    columns = [*BUSINESS_COLUMNS, BUSINESS_VERSION]
    in_force = map_blocks(
        versions, "business_id", buckets,
        lambda rows: versions_in_force(rows, stamp)[columns],
        spark_schema("businesses"),
    ).cache()  # fmt: skip
    identifiers = _identifiers_in_force(
        read_table(spark, root, "identifiers", exports), in_force, buckets
    )
    month = F.lit(stamp.strftime("%Y-%m"))
    placed = (F.col("month") <= month) & (F.col("ts") < at)
    orders = read_table(spark, root, "orders", exports, placed)
    ids = in_force.select("business_id")
    orders = orders.join(ids.withColumnRenamed("business_id", "seller_id"), "seller_id", "semi")
    orders = orders.join(ids.withColumnRenamed("business_id", "buyer_id"), "buyer_id", "semi")
    every_event = read_table(spark, root, "credit_events", exports)
    # Only businesses in force that have an event before the date reach the driver, not
    # every business id: the semi-join runs in Spark.
    known = every_event.where(F.col("at") < at).join(ids, "business_id", "semi")
    outcomes, events = labelled_cohort(
        utc(read_table(spark, root, "outcomes", exports).where(F.col("as_of") == at).toPandas()),
        utc(every_event.toPandas()),
        known.select("business_id").distinct().toPandas()["business_id"],
        stamp,
        horizon_days=horizon_days,
    )
    return SparkSnapshot(
        as_of=stamp,
        businesses_sdf=in_force.drop(BUSINESS_VERSION),
        identifiers_sdf=identifiers,
        orders_sdf=orders.select(*ORDER_COLUMNS),
        outcomes=outcomes,
        credit_events=events,
        buckets=buckets,
    )


def _identifiers_in_force(identifiers: Any, in_force: Any, buckets: int) -> Any:
    """The identifier rows the versions in force carried, per block of businesses (each
    business's versions in force travel with its identifier rows, tagged ``_held``)."""
    from pyspark.sql import functions as F

    held = in_force.select("business_id", BUSINESS_VERSION, F.lit(True).alias("_held"))
    rows = identifiers.withColumn("_held", F.lit(False)).unionByName(held, allowMissingColumns=True)

    version_columns = ["business_id", BUSINESS_VERSION]

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        versions = rows["_held"].to_numpy(bool)
        carried = rows.loc[~versions].drop(columns="_held")
        return identifiers_in_force(carried, rows.loc[versions, version_columns])

    schema = "business_id string, id_type string, id_hash string"
    return map_blocks(rows, "business_id", buckets, block, schema)


def to_spark(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame a pandas UDF can hand back: text as plain objects (PySpark cannot yet take
    pandas 3's Arrow-backed strings from a UDF)."""
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column].dtype) and frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
    return frame
