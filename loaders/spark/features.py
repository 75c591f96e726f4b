"""The feature frame of a :class:`~loaders.spark.snapshot.SparkSnapshot`, computed by Spark.

Every feature is :mod:`loaders.feature_kernels`' definition; this module only decides which
rows each kernel sees. Businesses are hash-partitioned into buckets and the kernels run once per
bucket (``applyInPandas``) on block-local indexes:

1. own features: a bucket's businesses with their orders from both sides (each order appears
   once as the seller's and once as the buyer's), sorted by ``txn_id`` as the pandas path's
   snapshot is, so every sum adds the same numbers in the same order;
2. identifier degrees per bucket of identifiers, then their summary per bucket of businesses;
3. the population figures (size offset, distress percentiles) on the driver from one column
   per business, unless a frozen :class:`~loaders.features.FeatureReference` gives them;
4. trade pairs per bucket of sellers, joined to their counterparties' values, then aggregated
   per bucket of the side's businesses (sorted by counterparty, as the pandas path's pairs
   are), and a second pass for the two-hop share.

The result is collected to the driver: one row per business, the columns of
:func:`loaders.features.compute_features` (equal to it: ``tests/loaders/test_spark_engine.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loaders import feature_kernels as fk
from loaders.features import (
    COUNTERPARTY_FEATURES,
    COUNTERPARTY_KEYS,
    DEFAULT_HUB_THRESHOLD,
    DEFAULT_WINDOWS,
    FeatureReference,
    own_feature_names,
    population_distress,
)
from loaders.point_in_time import status_as_of
from loaders.spark.snapshot import BUCKET, bucket_of, to_spark, utc

if TYPE_CHECKING:
    from loaders.spark.snapshot import SparkSnapshot

logger = logging.getLogger(__name__)

IDENTIFIER_FEATURES = ["shared_id_businesses", "shared_id_types", "max_identifier_degree"]
_PRIVATE = ["_sized", "_recent_default"]
_ROLE_COLUMNS = ["txn_id", "ts", "status", "status_at", "amount_base"]
_VALUES = [*COUNTERPARTY_KEYS, *fk.COUNTERPARTY_SIGNALS]
_SIDES = {"buyers": ("seller_id", "buyer_id"), "suppliers": ("buyer_id", "seller_id")}


def _schema(columns: Sequence[str], key: str = "business_id") -> str:
    return ", ".join([f"{key} string", *(f"`{c}` double" for c in columns)])


def spark_features(
    snapshot: SparkSnapshot,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    hub_threshold: int = DEFAULT_HUB_THRESHOLD,
    counterparty_days: float = 365.0,
    reference: FeatureReference | None = None,
) -> pd.DataFrame:
    """Features of every business in ``snapshot``, as
    :func:`loaders.features.compute_features` computes them from its pandas frames (same
    options; ``identifiers`` and ``credit_events`` come from the snapshot itself)."""
    if 365 not in windows or 90 not in windows:
        raise ValueError("windows must include 90 and 365 (rates and growth use them)")
    as_of, buckets = snapshot.as_of, snapshot.buckets
    roles = _roles(snapshot.orders_sdf).withColumn(BUCKET, bucket_of("entity_id", buckets))
    roles = roles.cache()
    if reference is not None:
        size_offset = reference.size_offset
    else:
        declared = snapshot.businesses_sdf.select("employees", "declared_revenue").toPandas()
        size_offset = fk.population_size_offset(*fk.declared_size(declared))
    own_names = [c for c in own_feature_names(windows) if c not in IDENTIFIER_FEATURES]
    own_block = _own_block(as_of, windows, size_offset, snapshot.credit_events, own_names)
    biz = snapshot.businesses_sdf.withColumn(BUCKET, bucket_of("business_id", buckets))
    own = (
        biz.groupBy(BUCKET)
        .cogroup(roles.groupBy(BUCKET))
        .applyInPandas(own_block, _schema([*own_names, *_PRIVATE]))
    )
    identifiers = _identifier_features(snapshot.identifiers_sdf, buckets, hub_threshold)
    own = own.join(identifiers, "business_id", "left").fillna(0.0, IDENTIFIER_FEATURES).cache()
    values = _with_distress(own, reference)
    pairs = _pairs(roles, as_of, buckets, counterparty_days).cache()
    sides = _side_features(pairs, values, buckets)
    out = own.select("business_id", *own_feature_names(windows)).join(sides, "business_id", "left")
    frame = out.toPandas().set_index("business_id").sort_index()
    frame[COUNTERPARTY_FEATURES] = frame[COUNTERPARTY_FEATURES].fillna(0.0)
    frame = frame[[*own_feature_names(windows), *COUNTERPARTY_FEATURES]].astype(float)
    frame.index.name = "business_id"
    for cached in (roles, own, pairs):
        cached.unpersist()
    return frame


def _roles(orders: Any) -> Any:
    """Each order twice: as its seller's (``other_id`` = buyer) and as its buyer's."""
    from pyspark.sql import functions as F

    def view(role: str, entity: str, other: str) -> Any:
        return orders.select(
            F.lit(role).alias("role"),
            F.col(entity).alias("entity_id"),
            F.col(other).alias("other_id"),
            *_ROLE_COLUMNS,
        )

    return view("seller", "seller_id", "buyer_id").unionByName(
        view("buyer", "buyer_id", "seller_id")
    )


def _trades(rows: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp) -> fk.Trades:
    """One role's orders of a block as kernel arrays (entity local to ``ids``)."""
    if rows.empty:
        empty = np.zeros(0, dtype=np.int64)
        return fk.Trades(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, str), np.zeros(0))
    rows = status_as_of(rows, as_of)
    status, ts, age, gmv = fk.trade_arrays(rows, as_of)
    other = pd.factorize(rows["other_id"], sort=True)[0]
    return fk.Trades(ids.get_indexer(rows["entity_id"]), other, age, gmv, status, ts)


def _own_block(
    as_of: pd.Timestamp,
    windows: Sequence[int],
    size_offset: float,
    events: pd.DataFrame,
    columns: list[str],
) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    def block(businesses: pd.DataFrame, roles: pd.DataFrame) -> pd.DataFrame:
        if businesses.empty:
            return pd.DataFrame(columns=["business_id", *columns, *_PRIVATE])
        biz = utc(businesses).sort_values("business_id", ignore_index=True)
        ids = pd.Index(biz["business_id"].astype(str).to_numpy())
        roles = utc(roles).sort_values("txn_id", kind="stable")
        sold = _trades(roles[roles["role"] == "seller"], ids, as_of)
        bought = _trades(roles[roles["role"] == "buyer"], ids, as_of)
        cols = fk.own_block(
            biz, sold, bought, as_of, windows=windows, size_offset=size_offset,
            credit_events=events,
        )  # fmt: skip
        out = pd.DataFrame({c: cols[c] for c in [*columns, *_PRIVATE]})
        out.insert(0, "business_id", ids)
        return to_spark(out)

    return block


def _identifier_features(identifiers: Any, buckets: int, hub_threshold: int) -> Any:
    """Per business: :func:`loaders.feature_kernels.identifier_features`, from the links
    computed per bucket of identifiers (every holder of one identifier lands in one bucket)."""
    from pyspark.sql import functions as F

    keyed = identifiers.withColumn("_key", F.concat_ws(":", "id_type", "id_hash"))
    keyed = keyed.withColumn(BUCKET, bucket_of("_key", buckets)).drop("_key")
    links = keyed.groupBy(BUCKET).applyInPandas(
        lambda rows: to_spark(fk.identifier_links(rows, hub_threshold)),
        "business_id string, id_type string, degree double, other_id string",
    )

    def summary(rows: pd.DataFrame) -> pd.DataFrame:
        ids = pd.Index(np.unique(rows["business_id"].astype(str)))
        cols = fk.identifier_features(ids, rows)
        out = pd.DataFrame({c: cols[c] for c in IDENTIFIER_FEATURES})
        out.insert(0, "business_id", ids)
        return to_spark(out)

    by_business = links.withColumn(BUCKET, bucket_of("business_id", buckets)).groupBy(BUCKET)
    return by_business.applyInPandas(summary, _schema(IDENTIFIER_FEATURES))


def _with_distress(own: Any, reference: FeatureReference | None) -> Any:
    """Each business's counterparty values with its distress score, a population figure
    computed on the driver from the few columns it needs (one row per business)."""
    needed = ["activity_to_size", "_sized", "seller_orders_365d", "buyer_orders_365d",
              "silent", "is_consumer"]  # fmt: skip
    frame = own.select("business_id", *needed).toPandas()
    frame["distress"] = population_distress(frame, reference)
    spark = own.sparkSession
    distress = spark.createDataFrame(frame[["business_id", "distress"]], _schema(["distress"]))
    values = own.select(
        "business_id", *COUNTERPARTY_KEYS, "silent",
        own["_recent_default"].alias("recent_default"), "known_default_365d",
    )  # fmt: skip
    return values.join(distress, "business_id")


def _pairs(roles: Any, as_of: pd.Timestamp, buckets: int, counterparty_days: float) -> Any:
    """``(seller_id, buyer_id, gmv, recent)``: :func:`loaders.feature_kernels.window_pairs`
    per bucket of sellers."""

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        rows = utc(rows[rows["role"] == "seller"]).sort_values("txn_id", kind="stable")
        seller_ids = pd.Index(np.unique(rows["entity_id"].astype(str)))
        buyer_ids = np.unique(rows["other_id"].astype(str))
        e, o, gmv, recent = fk.window_pairs(_trades(rows, seller_ids, as_of), counterparty_days)
        return to_spark(pd.DataFrame(
            {"seller_id": seller_ids.to_numpy()[e], "buyer_id": buyer_ids[o], "gmv": gmv,
             "recent": recent}
        ))  # fmt: skip

    schema = "seller_id string, buyer_id string, gmv double, recent double"
    return roles.groupBy(BUCKET).applyInPandas(block, schema)


def _side_features(pairs: Any, values: Any, buckets: int) -> Any:
    """Both sides' ``COUNTERPARTY_FEATURES`` per business (those with trade pairs)."""
    first = {side: _side_pass(pairs, values, side, buckets) for side in _SIDES}
    distressed = (
        first["buyers"]
        .select("business_id", "buyers_share_distressed")
        .join(
            first["suppliers"].select("business_id", "suppliers_share_distressed"),
            "business_id",
            "full",
        )
    )
    out = None
    for side in _SIDES:
        two_hop = _two_hop_pass(pairs, distressed, side, buckets)
        part = first[side].join(two_hop, "business_id", "left")
        out = part if out is None else out.join(part, "business_id", "full")
    return out


def _side_pass(pairs: Any, values: Any, side: str, buckets: int) -> Any:
    """One side's aggregates except the two-hop share, per bucket of that side's businesses."""
    entity, other = _SIDES[side]
    joined = pairs.join(
        values.withColumnRenamed("business_id", other), other
    ).withColumn(BUCKET, bucket_of(entity, buckets))  # fmt: skip
    names = [n for n in _side_names() if n != "share_distressed_2hop"]

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values([entity, other], ignore_index=True)
        e, ids = pd.factorize(rows[entity], sort=True)
        n = len(ids)
        gathered = {c: rows[c].to_numpy(float) for c in _VALUES}
        cols = fk.side_aggregates(n, e, rows["gmv"].to_numpy(float), gathered, COUNTERPARTY_KEYS)
        cols["share_distressed_90d"] = fk.recent_distress_share(
            n, e, rows["recent"].to_numpy(float), gathered["distress"]
        )
        out = pd.DataFrame({f"{side}_{name}": cols[name] for name in names})
        out.insert(0, "business_id", np.asarray(ids))
        return to_spark(out)

    return joined.groupBy(BUCKET).applyInPandas(block, _schema([f"{side}_{n}" for n in names]))


def _two_hop_pass(pairs: Any, distressed: Any, side: str, buckets: int) -> Any:
    """``{side}_share_distressed_2hop``: the counterparties' own share on the same side."""
    entity, other = _SIDES[side]
    column = f"{side}_share_distressed"
    joined = pairs.join(
        distressed.select(distressed["business_id"].alias(other), column), other, "left"
    ).fillna(0.0, [column]).withColumn(BUCKET, bucket_of(entity, buckets))  # fmt: skip

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values([entity, other], ignore_index=True)
        e, ids = pd.factorize(rows[entity], sort=True)
        value = fk.two_hop_distress(
            len(ids), e, rows["gmv"].to_numpy(float), rows[column].to_numpy(float)
        )
        return to_spark(pd.DataFrame({"business_id": np.asarray(ids), f"{column}_2hop": value}))

    return joined.groupBy(BUCKET).applyInPandas(block, _schema([f"{column}_2hop"]))


def _side_names() -> list[str]:
    """The per-side aggregate names, in ``COUNTERPARTY_FEATURES``' order."""
    return [c.removeprefix("buyers_") for c in COUNTERPARTY_FEATURES if c.startswith("buyers_")]
