"""The feature frame of a :class:`~loaders.spark.snapshot.SparkSnapshot`, computed by Spark.

Every feature is :mod:`loaders.feature_kernels`' definition; this module only decides which
rows each kernel sees. Rows are hash-partitioned by business and the kernels run once per
partition, a block of whole businesses (:func:`loaders.spark.blocks.map_blocks`), on
block-local indexes:

1. own features: a block's businesses with their orders from both sides (each order appears
   once as the seller's and once as the buyer's, from one read), sorted by ``txn_id`` as the
   pandas path's snapshot is, so every sum adds the same numbers in the same order; the same
   pass emits its sellers' trade pairs, since it holds all their orders;
2. identifier degrees per block of identifiers, then their summary per block of businesses;
3. the population figures (size offset, distress percentiles) on the driver from one column
   per business, unless a frozen :class:`~loaders.features.FeatureReference` gives them;
4. trade pairs joined to their counterparties' values, then aggregated per block of the
   side's businesses (sorted by counterparty, as the pandas path's pairs are), and a second
   pass for the two-hop share.

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
from loaders.columns import BUSINESS_COLUMNS
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
from loaders.spark.blocks import map_blocks

if TYPE_CHECKING:
    from loaders.spark.snapshot import SparkSnapshot

logger = logging.getLogger(__name__)

IDENTIFIER_FEATURES = ["shared_id_businesses", "shared_id_types", "max_identifier_degree"]
_PRIVATE = ["_sized", "_recent_default"]
_ROLE_COLUMNS = ["txn_id", "ts", "status", "status_at", "amount_base"]
_ROLE_TABLE = ["side", "entity", "other", *_ROLE_COLUMNS]
#: The ``side`` of a business's own row among its orders' rows (see :func:`_profiles`).
_PROFILE = "business"
_PAIR_SCHEMA = "_pair_buyer string, _pair_gmv double, _pair_recent double"
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
    if reference is not None:
        size_offset = reference.size_offset
    else:
        declared = snapshot.businesses_sdf.select("employees", "declared_revenue").toPandas()
        size_offset = fk.population_size_offset(*fk.declared_size(declared))
    own_names = [c for c in own_feature_names(windows) if c not in IDENTIFIER_FEATURES]
    own_block = _own_block(
        as_of, windows, size_offset, snapshot.credit_events, own_names, counterparty_days
    )
    rows = _both_sides(snapshot.orders_sdf, *_ROLE_COLUMNS).unionByName(
        _profiles(snapshot.businesses_sdf), allowMissingColumns=True
    )
    schema = f"{_schema([*own_names, *_PRIVATE])}, {_PAIR_SCHEMA}"
    both = map_blocks(rows, "entity", buckets, own_block, schema).cache()
    own, pairs = _split_pairs(both)
    identifiers = _identifier_features(snapshot.identifiers_sdf, buckets, hub_threshold)
    own = own.join(identifiers, "business_id", "left").fillna(0.0, IDENTIFIER_FEATURES).cache()
    values = _with_distress(own, reference)
    sides = _side_features(pairs, values, buckets)
    out = own.select("business_id", *own_feature_names(windows)).join(sides, "business_id", "left")
    frame = out.toPandas().set_index("business_id").sort_index()
    frame[COUNTERPARTY_FEATURES] = frame[COUNTERPARTY_FEATURES].fillna(0.0)
    frame = frame[[*own_feature_names(windows), *COUNTERPARTY_FEATURES]].astype(float)
    frame.index.name = "business_id"
    for cached in (both, own):
        cached.unpersist()
    return frame


def _split_pairs(both: Any) -> tuple[Any, Any]:
    """The own block's output split into one row per business and the sellers' trade pairs
    ``(seller_id, buyer_id, gmv, recent)`` (rows with a ``_pair_buyer``)."""
    from pyspark.sql import functions as F

    is_pair = F.col("_pair_buyer").isNotNull()
    pairs = both.where(is_pair).select(
        F.col("business_id").alias("seller_id"), F.col("_pair_buyer").alias("buyer_id"),
        F.col("_pair_gmv").alias("gmv"), F.col("_pair_recent").alias("recent"),
    )  # fmt: skip
    own = both.where(~is_pair).drop("_pair_buyer", "_pair_gmv", "_pair_recent")
    return own, pairs


def _profiles(businesses: Any) -> Any:
    """Each business's own row, in the shape of its orders' two sides (``side`` =
    ``"business"``), so a business and its orders reach the same block."""
    from pyspark.sql import functions as F

    return businesses.select(
        F.lit(_PROFILE).alias("side"), F.col("business_id").alias("entity"),
        *[c for c in BUSINESS_COLUMNS if c != "business_id"],
    )  # fmt: skip


def _trades(rows: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp) -> tuple[fk.Trades, np.ndarray]:
    """One side's orders of a block as kernel arrays (entity local to ``ids``), and the
    counterparty ids their ``other`` indexes (sorted)."""
    if rows.empty:
        empty = np.zeros(0, dtype=np.int64)
        none = fk.Trades(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, str), np.zeros(0))
        return none, np.zeros(0, dtype=object)
    rows = status_as_of(rows, as_of)
    status, ts, age, gmv = fk.trade_arrays(rows, as_of)
    other, others = pd.factorize(rows["other"], sort=True)
    trades = fk.Trades(ids.get_indexer(rows["entity"]), other, age, gmv, status, ts)
    return trades, np.asarray(others, dtype=object)


def _own_block(
    as_of: pd.Timestamp,
    windows: Sequence[int],
    size_offset: float,
    events: pd.DataFrame,
    columns: list[str],
    counterparty_days: float,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A block's own features (``columns`` and ``_PRIVATE``, one row per business), followed
    by its sellers' trade pairs (:func:`loaders.feature_kernels.window_pairs`) in the
    ``_pair_*`` columns: the block already holds every order of its sellers, so the pairs
    cost no second pass over the orders."""

    def block(rows: pd.DataFrame) -> pd.DataFrame:
        profile = rows["side"] == _PROFILE
        biz = rows.loc[profile, ["entity", *BUSINESS_COLUMNS[1:]]]
        biz = biz.rename(columns={"entity": "business_id"})
        biz = biz.sort_values("business_id", ignore_index=True)
        ids = pd.Index(biz["business_id"].astype(str).to_numpy())
        roles = rows.loc[~profile, _ROLE_TABLE].sort_values("txn_id", kind="stable")
        sold, buyers = _trades(roles[roles["side"] == "buyers"], ids, as_of)
        bought, _ = _trades(roles[roles["side"] == "suppliers"], ids, as_of)
        e, o, gmv, recent = fk.window_pairs(sold, counterparty_days)
        pairs = pd.DataFrame({
            "business_id": ids.to_numpy()[e], "_pair_buyer": buyers[o], "_pair_gmv": gmv,
            "_pair_recent": recent,
        })  # fmt: skip
        cols = fk.own_block(
            biz, sold, bought, as_of, windows=windows, size_offset=size_offset,
            credit_events=events,
        )  # fmt: skip
        out = pd.DataFrame({c: cols[c] for c in [*columns, *_PRIVATE]})
        out.insert(0, "business_id", ids)
        return pd.concat([out, pairs], ignore_index=True)

    return block


def _identifier_features(identifiers: Any, buckets: int, hub_threshold: int) -> Any:
    """Per business: :func:`loaders.feature_kernels.identifier_features`, from the links
    computed per block of identifiers (every holder of one identifier lands in one block)."""
    from pyspark.sql import functions as F

    keyed = identifiers.withColumn("_key", F.concat_ws(":", "id_type", "id_hash"))
    links = map_blocks(
        keyed, "_key", buckets,
        lambda rows: fk.identifier_links(rows.drop(columns="_key"), hub_threshold),
        "business_id string, id_type string, degree double, other_id string",
    )  # fmt: skip

    def summary(rows: pd.DataFrame) -> pd.DataFrame:
        ids = pd.Index(_sorted_unique(rows["business_id"]))
        cols = fk.identifier_features(ids, rows)
        out = pd.DataFrame({c: cols[c] for c in IDENTIFIER_FEATURES})
        out.insert(0, "business_id", ids)
        return out

    return map_blocks(links, "business_id", buckets, summary, _schema(IDENTIFIER_FEATURES))


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


def _sorted_unique(values: pd.Series) -> np.ndarray:
    """The distinct strings of ``values``, sorted: ``np.unique``'s answer, but hashing first
    and sorting only the distinct values (``np.unique`` sorts every row, which took most of
    a block's time)."""
    return np.sort(pd.unique(values.astype(object)).astype(str))


def _side_features(pairs: Any, values: Any, buckets: int) -> Any:
    """Both sides' ``COUNTERPARTY_FEATURES`` per business (those with trade pairs): one pass
    for the aggregates, a second for the two-hop share, each over both sides at once."""
    from pyspark.sql import functions as F

    first = _side_pass(pairs, values, buckets)
    shares = [f"{side}_share_distressed" for side in _SIDES]
    distressed = first.select(F.col("business_id").alias("other"), *shares)
    own_side = F.when(F.col("side") == "buyers", F.col(shares[0])).otherwise(F.col(shares[1]))
    rows = (
        _both_sides(pairs, "gmv", "recent")
        .join(distressed, "other", "left")
        .select("side", "entity", "other", "gmv", F.coalesce(own_side, F.lit(0.0)).alias("value"))
    )
    return first.join(_two_hop_pass(rows, buckets), "business_id", "left")


def _both_sides(frame: Any, *keep: str) -> Any:
    """Each row of ``frame`` (an order or a trade pair) twice, from one read: as its seller's
    (``side`` = buyers, ``entity`` the seller, ``other`` the buyer) and as its buyer's
    (``side`` = suppliers), with the ``keep`` columns."""
    from pyspark.sql import functions as F

    views = [
        F.struct(F.lit(side).alias("side"), F.col(entity).alias("entity"),
                 F.col(other).alias("other"))
        for side, (entity, other) in _SIDES.items()
    ]  # fmt: skip
    exploded = frame.select(F.explode(F.array(*views)).alias("_view"), *keep)
    return exploded.select("_view.*", *keep)


def _per_side(
    rows: pd.DataFrame, block: Callable[[pd.DataFrame, str], pd.DataFrame], columns: list[str]
) -> pd.DataFrame:
    """``block(rows of one side, side)`` for both sides (rows sorted by entity, then
    counterparty, as the pandas path's pairs are), joined on ``business_id``."""
    out = None
    for side in _SIDES:
        part = rows[rows["side"] == side].sort_values(["entity", "other"], ignore_index=True)
        frame = block(part, side) if len(part) else pd.DataFrame(columns=["business_id"])
        out = frame if out is None else out.merge(frame, on="business_id", how="outer")
    assert out is not None
    return out.reindex(columns=["business_id", *columns])


def _side_pass(pairs: Any, values: Any, buckets: int) -> Any:
    """Both sides' aggregates except the two-hop share, per block of businesses."""
    counterparties = values.withColumnRenamed("business_id", "other")
    joined = _both_sides(pairs, "gmv", "recent").join(counterparties, "other")
    names = [n for n in _side_names() if n != "share_distressed_2hop"]
    columns = [f"{side}_{name}" for side in _SIDES for name in names]

    def side_block(rows: pd.DataFrame, side: str) -> pd.DataFrame:
        e, ids = pd.factorize(rows["entity"], sort=True)
        n = len(ids)
        gathered = {c: rows[c].to_numpy(float) for c in _VALUES}
        cols = fk.side_aggregates(n, e, rows["gmv"].to_numpy(float), gathered, COUNTERPARTY_KEYS)
        cols["share_distressed_90d"] = fk.recent_distress_share(
            n, e, rows["recent"].to_numpy(float), gathered["distress"]
        )
        out = pd.DataFrame({f"{side}_{name}": cols[name] for name in names})
        out.insert(0, "business_id", np.asarray(ids))
        return out

    return map_blocks(
        joined, "entity", buckets, lambda rows: _per_side(rows, side_block, columns),
        _schema(columns),
    )  # fmt: skip


def _two_hop_pass(rows: Any, buckets: int) -> Any:
    """``{side}_share_distressed_2hop``: the counterparties' own share on the same side
    (``value`` in ``rows``), per block of businesses."""
    columns = [f"{side}_share_distressed_2hop" for side in _SIDES]

    def side_block(rows: pd.DataFrame, side: str) -> pd.DataFrame:
        e, ids = pd.factorize(rows["entity"], sort=True)
        value = fk.two_hop_distress(
            len(ids), e, rows["gmv"].to_numpy(float), rows["value"].to_numpy(float)
        )
        return pd.DataFrame(
            {"business_id": np.asarray(ids), f"{side}_share_distressed_2hop": value}
        )

    return map_blocks(
        rows, "entity", buckets, lambda rows: _per_side(rows, side_block, columns),
        _schema(columns),
    )  # fmt: skip


def _side_names() -> list[str]:
    """The per-side aggregate names, in ``COUNTERPARTY_FEATURES``' order."""
    return [c.removeprefix("buyers_") for c in COUNTERPARTY_FEATURES if c.startswith("buyers_")]
