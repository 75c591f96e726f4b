"""The feature definitions as kernels on integer-indexed arrays, shared by every engine.

Each kernel computes its features for a *block* of businesses from arrays whose entity index
is local to the block (``0..n-1``). pandas runs every kernel once on one block holding the whole
population (:func:`loaders.features.compute_features`); Spark hash-partitions businesses into
buckets and runs the same kernels per bucket (:mod:`loaders.spark.features`). What differs
between engines is only how the arrays are gathered (``Index.get_indexer`` there, a shuffle and
a join here); the arithmetic, which is what a feature *is*, is written once, below.

Three things depend on the whole population and are computed once, by the driver:
``population_size_offset`` and ``distress_scores`` (unless a frozen
:class:`loaders.features.FeatureReference` supplies them) and identifier degrees (per
identifier, so a shuffle by identifier gathers them: :func:`identifier_links`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from loaders.columns import THIN_FILE_DAYS

if TYPE_CHECKING:
    from loaders.features import FeatureReference

DAYS_SINCE_CAP = 730.0
SILENT_MIN_DAYS = 45.0
SILENT_GAPS = 3.0
DISTRESSED_PERCENTILE = 0.7
MAX_SHARE = 0.1
RECENT_DAYS = 90.0
_DAY = 86_400.0


@dataclass(frozen=True)
class Trades:
    """Orders placed before the score date, seen from one side (seller or buyer).

    ``entity``: the block-local index of this side's business, shape ``[orders]``;
    ``other``: any integer code of the counterparty (consistent within the block);
    ``age``: days before the score date; ``gmv``: amount in the base currency, 0 when
    cancelled; ``status``: as it stood at the score date; ``ts``: seconds since the epoch.
    """

    entity: np.ndarray
    other: np.ndarray
    age: np.ndarray
    gmv: np.ndarray
    status: np.ndarray
    ts: np.ndarray

    def where(self, mask: np.ndarray) -> Trades:
        return Trades(*(a[mask] for a in self.__dict__.values()))


def seconds(values: pd.Series) -> np.ndarray:
    """tz-aware datetimes -> float seconds since the epoch (unit-independent)."""
    return pd.DatetimeIndex(values).as_unit("s").asi8.astype(float)


def _labels(values: pd.Series) -> np.ndarray:
    """A column of a few distinct labels as a fixed-width string array: built from its
    distinct values, and compared in C (an object array of Python strings took five times as
    long to build and to compare). Nulls keep the object array ``astype(str)`` gives."""
    codes, labels = pd.factorize(values)
    if (codes < 0).any():
        return values.astype(str).to_numpy()
    return np.asarray(labels, dtype=str)[codes]


def trade_arrays(
    orders: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(status, ts, age, gmv)`` of orders placed before ``as_of``: the status as it stood
    then (a change dated on or after ``as_of`` reads ``completed``), GMV 0 when cancelled."""
    status = np.where(
        (orders["status_at"] >= as_of).to_numpy(bool), "completed", _labels(orders["status"])
    )
    ts = seconds(orders["ts"])
    age = (as_of.timestamp() - ts) / _DAY
    gmv = np.where(status == "cancelled", 0.0, orders["amount_base"].to_numpy(float))
    return status, ts, age, gmv


def role_features(
    n: int, trades: Trades, windows: Sequence[int], role: str
) -> dict[str, np.ndarray]:
    """Features of one role (``seller`` or ``buyer``) for ``n`` businesses; also the private
    ``_{role}_year_gmv`` (raw GMV over 365 days), which the profile features need."""
    entity, age, gmv = trades.entity, trades.age, trades.gmv
    out: dict[str, np.ndarray] = {}
    for w in windows:
        m = age < w
        out[f"{role}_orders_{w}d"] = np.bincount(entity[m], minlength=n).astype(float)
        out[f"{role}_gmv_{w}d"] = np.log1p(np.bincount(entity[m], weights=gmv[m], minlength=n))
    recent = np.bincount(entity[age < 90], weights=gmv[age < 90], minlength=n)
    prior_m = (age >= 90) & (age < 180)
    prior = np.bincount(entity[prior_m], weights=gmv[prior_m], minlength=n)
    out[f"{role}_gmv_growth"] = np.log1p(recent) - np.log1p(prior)

    year = trades.where(age < 365)
    e = year.entity
    out[f"_{role}_year_gmv"] = np.bincount(e, weights=year.gmv, minlength=n)
    count = np.bincount(e, minlength=n).astype(float)
    safe = np.maximum(count, 1.0)
    for name, code in (("refund", "refunded"), ("dispute", "disputed"), ("cancel", "cancelled")):
        out[f"{role}_{name}_rate"] = np.bincount(e, weights=year.status == code, minlength=n) / safe

    pair_e, _, pair_gmv = trade_pairs(e, year.other, year.gmv)
    share = shares(n, pair_e, pair_gmv)
    out[f"{role}_counterparties"] = np.bincount(pair_e, minlength=n).astype(float)
    out[f"{role}_hhi"] = np.bincount(pair_e, weights=share**2, minlength=n)
    top = np.zeros(n)
    np.maximum.at(top, pair_e, share)
    out[f"{role}_top_share"] = top
    out[f"{role}_gap_cv"] = _gap_cv(n, e, year.ts)

    last_age = np.full(n, DAYS_SINCE_CAP)
    np.minimum.at(last_age, entity, age)
    out[f"{role}_days_since_last"] = np.minimum(last_age, DAYS_SINCE_CAP)
    return out


def _gap_cv(n: int, e: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Coefficient of variation of the gaps (days) between each business's orders."""
    order = np.lexsort((t, e))
    e_sorted, t_sorted = e[order], t[order]
    same = e_sorted[1:] == e_sorted[:-1]
    gaps = (t_sorted[1:] - t_sorted[:-1])[same] / _DAY
    gap_e = e_sorted[1:][same]
    k = np.bincount(gap_e, minlength=n).astype(float)
    mean = np.bincount(gap_e, weights=gaps, minlength=n) / np.maximum(k, 1.0)
    sq = np.bincount(gap_e, weights=gaps**2, minlength=n) / np.maximum(k, 1.0)
    std = np.sqrt(np.maximum(sq - mean**2, 0.0))
    return np.where((k >= 2) & (mean > 0), std / np.maximum(mean, 1e-9), 0.0)


def trade_pairs(
    entity: np.ndarray, other: np.ndarray, gmv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(entity, other)`` pairs, sorted, and their summed ``gmv``."""
    if entity.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    span = int(other.max()) + 1
    pair = entity.astype(np.int64) * span + other
    uniq, inverse = np.unique(pair, return_inverse=True)
    return uniq // span, uniq % span, np.bincount(inverse, weights=gmv, minlength=len(uniq))


def shares(n: int, pair_e: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each pair's share of its entity's total ``weight`` (0 where the total is 0)."""
    total = np.bincount(pair_e, weights=weight, minlength=n)
    return np.where(total[pair_e] > 0, weight / np.maximum(total[pair_e], 1e-12), 0.0)


def population_size_offset(employees: np.ndarray, revenue: np.ndarray) -> float:
    """Median ``log1p(revenue) - log1p(employees)`` over businesses declaring both (0 if none):
    how a size declared only as headcount is turned into revenue."""
    both = (employees > 0) & (revenue > 0)
    if not both.any():
        return 0.0
    return float(np.median(np.log1p(revenue[both]) - np.log1p(employees[both])))


def declared_size(biz: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(employees, revenue)`` as floats, NaN where not declared."""
    employees = pd.to_numeric(biz["employees"], errors="coerce").to_numpy(float, na_value=np.nan)
    revenue = pd.to_numeric(biz["declared_revenue"], errors="coerce")
    return employees, revenue.to_numpy(float, na_value=np.nan)


def profile_features(
    biz: pd.DataFrame, as_of: pd.Timestamp, cols: dict[str, np.ndarray], size_offset: float
) -> dict[str, np.ndarray]:
    """Tenure, kind, declared size and the two distress signals (``activity_to_size``,
    ``silent``) from the business rows and ``cols`` (both roles' :func:`role_features`).
    Also ``_sized`` (1 where a size was declared), which the distress score needs."""
    tenure = (as_of.timestamp() - seconds(biz["registered_at"])) / _DAY
    out: dict[str, np.ndarray] = {"tenure_days": tenure}
    out["is_thin_file"] = (tenure < THIN_FILE_DAYS).astype(float)
    kind = biz["kind"].astype(str).to_numpy()
    out["is_enterprise"] = (kind == "enterprise").astype(float)
    out["is_consumer"] = (kind == "consumer").astype(float)
    employees, revenue = declared_size(biz)
    out["log_employees"] = np.nan_to_num(np.log1p(np.maximum(employees, 0)), nan=0.0)
    out["log_declared_revenue"] = np.nan_to_num(np.log1p(np.maximum(revenue, 0)), nan=0.0)
    out["declared_missing"] = (np.isnan(employees) | np.isnan(revenue)).astype(float)
    sales = np.log1p(cols["_seller_year_gmv"])
    out["sales_to_declared"] = np.where(
        np.isnan(revenue) | (revenue <= 0), 0.0, sales - out["log_declared_revenue"]
    )
    year_gmv = cols["_seller_year_gmv"] + cols["_buyer_year_gmv"]
    annualised = year_gmv * 365.0 / np.clip(tenure, 30.0, 365.0)
    log_rev = np.where(revenue > 0, np.log1p(np.maximum(revenue, 0)), np.nan)
    log_emp = np.where(employees > 0, np.log1p(np.maximum(employees, 0)), np.nan)
    log_size = np.where(np.isfinite(log_rev), log_rev, log_emp + size_offset)
    sized = np.isfinite(log_size)
    out["activity_to_size"] = np.where(sized, np.log1p(annualised) - log_size, 0.0)
    year_orders = cols["seller_orders_365d"] + cols["buyer_orders_365d"]
    since = np.minimum(cols["seller_days_since_last"], cols["buyer_days_since_last"])
    usual_gap = 365.0 / np.maximum(year_orders, 1.0)
    out["silent"] = (
        (year_orders >= 3) & (since > np.maximum(SILENT_MIN_DAYS, SILENT_GAPS * usual_gap))
    ).astype(float)
    out["_sized"] = sized.astype(float)
    return out


def known_events(
    ids: pd.Index, events: pd.DataFrame | None, as_of: pd.Timestamp, event: str, days: int
) -> np.ndarray:
    """1.0 where a business had ``event`` in ``[as_of - days, as_of)``, else 0.0."""
    out = np.zeros(len(ids))
    if events is None or events.empty:
        return out
    at = events["at"]
    window = (events["event"] == event) & (at < as_of) & (at >= as_of - pd.Timedelta(days=days))
    position = ids.get_indexer(events.loc[window, "business_id"].astype(str))
    out[position[position >= 0]] = 1.0
    return out


#: Columns :func:`identifier_links` returns.
LINK_COLUMNS = ["business_id", "id_type", "degree", "other_id"]


def identifier_links(identifiers: pd.DataFrame, hub_threshold: int) -> pd.DataFrame:
    """Per business and identifier: how many businesses hold it (``degree``), and one row per
    other business it shares a non-hub identifier with (``other_id``; empty string on the row
    that only carries the degree). ``identifiers`` must hold every holder of each identifier
    it contains (a block grouped by identifier)."""
    key = identifiers["id_type"].astype(str) + ":" + identifiers["id_hash"].astype(str)
    frame = pd.DataFrame(
        {
            "business_id": identifiers["business_id"].astype(str).to_numpy(),
            "id_type": identifiers["id_type"].astype(str).to_numpy(),
            "key": key.to_numpy(),
        }
    ).drop_duplicates()
    frame["degree"] = frame.groupby("key")["business_id"].transform("size").astype(float)
    holders = frame[["business_id", "id_type", "degree"]].assign(other_id="")
    shared = frame[(frame["degree"] > 1) & (frame["degree"] <= hub_threshold)]
    pairs = shared.merge(shared[["key", "business_id"]], on="key", suffixes=("", "_other"))
    pairs = pairs[pairs["business_id"] != pairs["business_id_other"]]
    pairs = pairs.rename(columns={"business_id_other": "other_id"})[LINK_COLUMNS]
    return pd.concat([holders, pairs], ignore_index=True)[LINK_COLUMNS]


def identifier_features(ids: pd.Index, links: pd.DataFrame) -> dict[str, np.ndarray]:
    """``shared_id_businesses`` (distinct others sharing a non-hub identifier),
    ``shared_id_types`` (kinds of identifier shared) and ``max_identifier_degree`` (log1p of
    the most businesses holding one of its identifiers) from :func:`identifier_links` rows."""
    n = len(ids)
    out = {k: np.zeros(n) for k in ("shared_id_businesses", "shared_id_types")}
    max_degree = np.zeros(n)
    if not links.empty:
        at = ids.get_indexer(links["business_id"])
        links = links.assign(_at=at)[at >= 0]
        np.maximum.at(max_degree, links["_at"].to_numpy(), links["degree"].to_numpy(float))
        shared = links[links["other_id"] != ""].groupby("_at")
        n_other = shared["other_id"].nunique()
        n_types = shared["id_type"].nunique()
        out["shared_id_businesses"][n_other.index.to_numpy()] = n_other.to_numpy(float)
        out["shared_id_types"][n_types.index.to_numpy()] = n_types.to_numpy(float)
    out["max_identifier_degree"] = np.log1p(max_degree)
    return out


def distress_scores(
    activity_to_size: np.ndarray,
    pool: np.ndarray,
    silent: np.ndarray,
    consumer: np.ndarray,
    reference: FeatureReference | None,
) -> np.ndarray:
    """How distressed each business looks, 0..1: its percentile of low activity for its
    declared size among ``pool`` (sized businesses that traded in the year; 0.5 outside it),
    read against the reference's frozen pool when given; 1 when it went silent, 0 for
    consumers."""
    score = np.full(len(pool), 0.5)
    pool = pool & ~consumer
    if pool.any() and reference is not None:
        score[pool] = reference.low_activity_percentile(activity_to_size[pool])
    elif pool.any():
        ranks = pd.Series(-activity_to_size[pool]).rank(pct=True).to_numpy()
        score[pool] = ranks
    score[silent > 0] = 1.0
    score[consumer] = 0.0
    return score


def side_aggregates(
    n: int, e: np.ndarray, gmv: np.ndarray, other: dict[str, np.ndarray], keys: Sequence[str]
) -> dict[str, np.ndarray]:
    """One side's aggregates over its trade pairs (``e`` = block-local entity, ``gmv`` over the
    counterparty window), from the counterparty's values gathered per pair (``other``: the
    ``keys``, ``distress``, ``silent``, ``recent_default``, ``known_default_365d``): trade-share
    weighted means, distress shares, the largest distress among major counterparties."""
    share = shares(n, e, gmv)
    out: dict[str, np.ndarray] = {
        f"wmean_{key}": np.bincount(e, weights=share * other[key], minlength=n) for key in keys
    }
    distressed = (other["distress"] >= DISTRESSED_PERCENTILE).astype(float)
    out["share_distressed"] = np.bincount(e, weights=share * distressed, minlength=n)
    out["share_silent"] = np.bincount(e, weights=share * other["silent"], minlength=n)
    out["wmean_distress"] = np.bincount(e, weights=share * other["distress"], minlength=n)
    top = np.zeros(n)
    major = share >= MAX_SHARE
    np.maximum.at(top, e[major], other["distress"][major])
    out["max_distress"] = top
    out["share_defaulted_90d"] = np.bincount(
        e, weights=share * other["recent_default"], minlength=n
    )
    out["share_defaulted_365d"] = np.bincount(
        e, weights=share * other["known_default_365d"], minlength=n
    )
    return out


def recent_distress_share(
    n: int, e: np.ndarray, recent_gmv: np.ndarray, other_distress: np.ndarray
) -> np.ndarray:
    """Trade share (last 90 days) with counterparties whose distress score is past the line."""
    distressed = (other_distress >= DISTRESSED_PERCENTILE).astype(float)
    return np.bincount(e, weights=shares(n, e, recent_gmv) * distressed, minlength=n)


def two_hop_distress(
    n: int, e: np.ndarray, gmv: np.ndarray, other_share_distressed: np.ndarray
) -> np.ndarray:
    """Weighted mean of the counterparties' own ``share_distressed`` on the same side."""
    return np.bincount(e, weights=shares(n, e, gmv) * other_share_distressed, minlength=n)


def window_pairs(
    sold: Trades, counterparty_days: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trade pairs from the seller's side: ``(seller, buyer, gmv_window, gmv_recent)``, with
    GMV over the counterparty window and over the last 90 days (pairs that traded in either)."""
    t = sold.where(sold.age < max(counterparty_days, RECENT_DAYS))
    if t.entity.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), np.zeros(0)
    span = int(t.other.max()) + 1
    uniq, inverse = np.unique(t.entity.astype(np.int64) * span + t.other, return_inverse=True)
    size = len(uniq)
    window = np.bincount(
        inverse, weights=np.where(t.age < counterparty_days, t.gmv, 0.0), minlength=size
    )
    recent = np.bincount(inverse, weights=np.where(t.age < RECENT_DAYS, t.gmv, 0.0), minlength=size)
    return uniq // span, uniq % span, window, recent


def own_block(
    biz: pd.DataFrame,
    sold: Trades,
    bought: Trades,
    as_of: pd.Timestamp,
    *,
    windows: Sequence[int],
    size_offset: float,
    credit_events: pd.DataFrame | None,
) -> dict[str, np.ndarray]:
    """Every own feature of a block's businesses (``biz`` rows, in block-local order) except the
    identifier ones, plus the private ``_sized`` and ``_recent_default`` the counterparty stage
    needs. ``sold``/``bought``: the block's orders from the seller's and the buyer's side."""
    n = len(biz)
    ids = pd.Index(biz["business_id"].astype(str).to_numpy())
    cols: dict[str, np.ndarray] = {}
    cols |= role_features(n, sold, windows, "seller")
    cols |= role_features(n, bought, windows, "buyer")
    cols |= profile_features(biz, as_of, cols, size_offset)
    cols["_recent_default"] = known_events(ids, credit_events, as_of, "defaulted", 90)
    cols["known_default_365d"] = known_events(ids, credit_events, as_of, "defaulted", 365)
    cols["known_fraud_365d"] = known_events(ids, credit_events, as_of, "fraud_confirmed", 365)
    return cols


#: What a counterparty contributes to its partners' aggregates besides ``COUNTERPARTY_KEYS``.
COUNTERPARTY_SIGNALS: list[str] = ["distress", "silent", "recent_default", "known_default_365d"]
