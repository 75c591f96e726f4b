"""Point-in-time features of every business as of a score date, from frames only (no database).

``compute_features(businesses, orders, as_of)`` looks only at orders with ``ts < as_of``, and at
their status *as it stood at* ``as_of`` (an order whose ``status_at >= as_of`` counts as
completed), so passing every order ever placed is safe. Frames follow ``loaders.columns``
(``BUSINESS_COLUMNS``, ``ORDER_COLUMNS`` with ``amount_base``, ``IDENTIFIER_COLUMNS``).

Own features (``OWN_FEATURES``, default windows 30/90/365 days), per role ``seller``/``buyer``:
order counts and log1p GMV per window (GMV excludes cancelled orders); GMV growth (log of the
last 90 days over the 90 before); refund/dispute/cancel rates over 365 days; distinct
counterparties, their Herfindahl index and the top counterparty's GMV share over 365 days;
coefficient of variation of the gaps between orders and days since the last order. Plus tenure,
the thin-file flag, kind, declared size, log of 365-day sales over declared revenue
(``sales_to_declared``, 0 when not declared), and (with ``identifiers``) how many other businesses
share a non-hub identifier (an identifier held by more than ``hub_threshold`` businesses is a
hub, like a warehouse address, and is not counted). Two distress signals: ``activity_to_size``
(log of annualised 365-day GMV, bought plus sold, over declared size: revenue, else employees
scaled by the median revenue per employee; 0 when neither is declared), since a struggling
business trades less than its size says; and ``silent`` (1 when it has >= 3 orders in the year
but none for more than ``SILENT_GAPS`` usual gaps and ``SILENT_MIN_DAYS``: it may have failed).

Counterparty features (``COUNTERPARTY_FEATURES``), separately over the businesses it sells to
(``buyers_*``: receivables) and buys from (``suppliers_*``), weighted by trade share (GMV over
365 days); 0 where it has none:

- ``wmean_<key>``: weighted means of ``COUNTERPARTY_KEYS``;
- ``DISTRESS_AGGREGATES`` of a per-business *distress score* in 0..1 (its percentile of low
  ``activity_to_size`` among sized non-consumers that traded in the year, 0.5 when unsized,
  1 when silent, 0 for consumers): ``wmean_distress``; ``max_distress`` over counterparties
  with at least ``MAX_SHARE`` of its trade; ``share_distressed`` (trade share with score >=
  ``DISTRESSED_PERCENTILE``), the same over the last 90 days (``share_distressed_90d``) and
  two hops out (``share_distressed_2hop``: the weighted mean of the counterparties' own
  ``share_distressed`` on the same side); ``share_silent``. Means of raw features miss these:
  risk sits in the few counterparties past a threshold, not in the average one.

All columns are finite floats (missing counts and rates are 0, with counts beside them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loaders.columns import HUB_THRESHOLD, THIN_FILE_DAYS, as_utc

DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 365)
ROLES: tuple[str, ...] = ("seller", "buyer")
DAYS_SINCE_CAP = 730.0
DEFAULT_HUB_THRESHOLD = HUB_THRESHOLD
SILENT_MIN_DAYS = 45.0
SILENT_GAPS = 3.0
DISTRESSED_PERCENTILE = 0.7
MAX_SHARE = 0.1
_DAY = 86_400.0


def own_feature_names(windows: Sequence[int] = DEFAULT_WINDOWS) -> list[str]:
    """Own feature column names for the given windows (days)."""
    names: list[str] = []
    for role in ROLES:
        for w in windows:
            names += [f"{role}_orders_{w}d", f"{role}_gmv_{w}d"]
        names += [
            f"{role}_gmv_growth",
            f"{role}_refund_rate",
            f"{role}_dispute_rate",
            f"{role}_cancel_rate",
            f"{role}_counterparties",
            f"{role}_hhi",
            f"{role}_top_share",
            f"{role}_gap_cv",
            f"{role}_days_since_last",
        ]
    names += [
        "tenure_days",
        "is_thin_file",
        "is_enterprise",
        "is_consumer",
        "log_employees",
        "log_declared_revenue",
        "declared_missing",
        "sales_to_declared",
        "activity_to_size",
        "silent",
        "shared_id_businesses",
        "shared_id_types",
        "max_identifier_degree",
        *KNOWN_EVENT_FEATURES,
    ]
    return names


#: Credit events a lender already knew before the score date (contract v2: another
#: business's past events may be features of its counterparties). Own: whether the business
#: itself had a default / confirmed fraud in the last 365 days; a GNN reads them from
#: neighbours through message passing, the trees through ``EVENT_AGGREGATES``.
KNOWN_EVENT_FEATURES: list[str] = ["known_default_365d", "known_fraud_365d"]
#: Trade shares (GMV over 365 days) with counterparties that defaulted in the last 90/365 days.
EVENT_AGGREGATES: list[str] = ["share_defaulted_90d", "share_defaulted_365d"]


#: Own features the counterparty aggregates average (behaviour that reveals health).
COUNTERPARTY_KEYS: list[str] = [
    "seller_gmv_365d",
    "buyer_gmv_365d",
    "seller_gmv_growth",
    "buyer_gmv_growth",
    "seller_refund_rate",
    "seller_dispute_rate",
    "seller_cancel_rate",
    "buyer_dispute_rate",
    "buyer_cancel_rate",
    "buyer_gap_cv",
    "buyer_days_since_last",
    "tenure_days",
    "sales_to_declared",
    "activity_to_size",
]
#: Signals that a counterparty looks distressed, aggregated as trade shares (see module doc).
DISTRESS_AGGREGATES: list[str] = [
    "share_distressed",
    "share_distressed_90d",
    "share_silent",
    "wmean_distress",
    "max_distress",
    "share_distressed_2hop",
]
OWN_FEATURES: list[str] = own_feature_names()
COUNTERPARTY_FEATURES: list[str] = [
    f"{side}_{name}"
    for side in ("buyers", "suppliers")
    for name in [f"wmean_{key}" for key in COUNTERPARTY_KEYS]
    + DISTRESS_AGGREGATES
    + EVENT_AGGREGATES
]


#: Points of the frozen activity distribution kept in a :class:`FeatureReference`.
REFERENCE_POINTS = 1001


@dataclass(frozen=True)
class FeatureReference:
    """The population figures some features are relative to, frozen at training time.

    Two features depend on everyone else: the distress score is a percentile of low activity
    among sized businesses, and a size declared only as headcount is turned into revenue by the
    population's median revenue per employee. Computed against the live population, one
    business's features (and so its score and reasons) would move whenever unrelated
    businesses arrive. With a reference, they are read against the training population instead.

    ``size_offset``: median ``log1p(revenue) - log1p(employees)`` of businesses declaring both;
    ``activity_quantiles``: ``REFERENCE_POINTS`` quantiles (ascending) of ``activity_to_size``
    over the distress pool.
    """

    size_offset: float
    activity_quantiles: tuple[float, ...]

    @classmethod
    def from_features(cls, features: pd.DataFrame) -> FeatureReference:
        """The reference of the population ``features`` (``compute_features``' output) holds."""
        log_emp = features["log_employees"].to_numpy(float)
        log_rev = features["log_declared_revenue"].to_numpy(float)
        both = (log_emp > 0) & (log_rev > 0)
        offset = float(np.median(log_rev[both] - log_emp[both])) if both.any() else 0.0
        year_orders = features["seller_orders_365d"] + features["buyer_orders_365d"]
        pool = (
            ((log_emp > 0) | (log_rev > 0))
            & (year_orders.to_numpy(float) > 0)
            & (features["is_consumer"].to_numpy(float) == 0)
        )
        activity = features["activity_to_size"].to_numpy(float)[pool]
        if activity.size == 0:
            activity = np.zeros(1)
        points = np.quantile(activity, np.linspace(0.0, 1.0, REFERENCE_POINTS))
        return cls(offset, tuple(float(v) for v in points))

    def low_activity_percentile(self, activity: np.ndarray) -> np.ndarray:
        """Share of the reference pool with at least this activity (1 = least active)."""
        points = np.asarray(self.activity_quantiles)
        below = np.searchsorted(points, activity, side="left")
        return 1.0 - below / len(points)

    def to_dict(self) -> dict[str, object]:
        return {"size_offset": self.size_offset, "activity_quantiles": [*self.activity_quantiles]}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FeatureReference:
        return cls(float(payload["size_offset"]), tuple(map(float, payload["activity_quantiles"])))


def _seconds(values: pd.Series) -> np.ndarray:
    """tz-aware datetimes -> float seconds since the epoch (unit-independent)."""
    return pd.DatetimeIndex(values).as_unit("s").asi8.astype(float)


def _role_features(
    n: int,
    entity: np.ndarray,
    other: np.ndarray,
    age: np.ndarray,
    gmv: np.ndarray,
    status: np.ndarray,
    ts: np.ndarray,
    windows: Sequence[int],
    role: str,
) -> dict[str, np.ndarray]:
    """Features of one role (seller or buyer); ``entity`` = this side's business index."""
    out: dict[str, np.ndarray] = {}
    for w in windows:
        m = age < w
        out[f"{role}_orders_{w}d"] = np.bincount(entity[m], minlength=n).astype(float)
        out[f"{role}_gmv_{w}d"] = np.log1p(np.bincount(entity[m], weights=gmv[m], minlength=n))
    recent = np.bincount(entity[age < 90], weights=gmv[age < 90], minlength=n)
    prior_m = (age >= 90) & (age < 180)
    prior = np.bincount(entity[prior_m], weights=gmv[prior_m], minlength=n)
    out[f"{role}_gmv_growth"] = np.log1p(recent) - np.log1p(prior)

    year = age < 365
    e, o, g, st, t = entity[year], other[year], gmv[year], status[year], ts[year]
    count = np.bincount(e, minlength=n).astype(float)
    safe = np.maximum(count, 1.0)
    for name, code in (("refund", "refunded"), ("dispute", "disputed"), ("cancel", "cancelled")):
        out[f"{role}_{name}_rate"] = np.bincount(e, weights=st == code, minlength=n) / safe

    pair = e.astype(np.int64) * n + o
    uniq, inverse = np.unique(pair, return_inverse=True)
    pair_gmv = np.bincount(inverse, weights=g, minlength=len(uniq))
    pair_e = uniq // n
    total = np.bincount(pair_e, weights=pair_gmv, minlength=n)
    share = np.where(total[pair_e] > 0, pair_gmv / np.maximum(total[pair_e], 1e-12), 0.0)
    out[f"{role}_counterparties"] = np.bincount(pair_e, minlength=n).astype(float)
    out[f"{role}_hhi"] = np.bincount(pair_e, weights=share**2, minlength=n)
    top = np.zeros(n)
    np.maximum.at(top, pair_e, share)
    out[f"{role}_top_share"] = top

    order = np.lexsort((t, e))
    e_sorted, t_sorted = e[order], t[order]
    same = e_sorted[1:] == e_sorted[:-1]
    gaps = (t_sorted[1:] - t_sorted[:-1])[same] / _DAY
    gap_e = e_sorted[1:][same]
    k = np.bincount(gap_e, minlength=n).astype(float)
    mean = np.bincount(gap_e, weights=gaps, minlength=n) / np.maximum(k, 1.0)
    sq = np.bincount(gap_e, weights=gaps**2, minlength=n) / np.maximum(k, 1.0)
    std = np.sqrt(np.maximum(sq - mean**2, 0.0))
    out[f"{role}_gap_cv"] = np.where((k >= 2) & (mean > 0), std / np.maximum(mean, 1e-9), 0.0)

    last_age = np.full(n, DAYS_SINCE_CAP)
    np.minimum.at(last_age, entity, age)
    out[f"{role}_days_since_last"] = np.minimum(last_age, DAYS_SINCE_CAP)
    return out


def _identifier_features(
    ids: pd.Index, identifiers: pd.DataFrame | None, hub_threshold: int
) -> dict[str, np.ndarray]:
    n = len(ids)
    zeros = {k: np.zeros(n) for k in ("shared_id_businesses", "shared_id_types",
                                        "max_identifier_degree")}  # fmt: skip
    if identifiers is None or identifiers.empty:
        return zeros
    idx = ids.get_indexer(identifiers["business_id"])
    frame = pd.DataFrame(
        {"b": idx, "key": identifiers["id_type"].astype(str) + ":" + identifiers["id_hash"]}
    )
    frame = frame[frame["b"] >= 0].drop_duplicates()
    if frame.empty:
        return zeros
    codes, _ = pd.factorize(frame["key"])
    b = frame["b"].to_numpy()
    degree = np.bincount(codes)
    max_degree = np.zeros(n)
    np.maximum.at(max_degree, b, degree[codes].astype(float))

    shared = (degree[codes] > 1) & (degree[codes] <= hub_threshold)
    pairs = pd.DataFrame({"b": b[shared], "code": codes[shared]})
    types = frame["key"].str.split(":", n=1).str[0].to_numpy()[shared]
    n_types = pd.Series(types).groupby(pairs["b"].to_numpy()).nunique()
    joined = pairs.merge(pairs, on="code", suffixes=("", "_other"))
    joined = joined[joined["b"] != joined["b_other"]]
    n_other = joined.groupby("b")["b_other"].nunique()

    out = dict(zeros)
    out["shared_id_businesses"][n_other.index.to_numpy()] = n_other.to_numpy(float)
    out["shared_id_types"][n_types.index.to_numpy()] = n_types.to_numpy(float)
    out["max_identifier_degree"] = np.log1p(max_degree)
    return out


def _trade_pairs(
    n: int, seller: np.ndarray, buyer: np.ndarray, gmv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (seller, buyer) pairs of the given orders and their summed GMV."""
    pair = seller.astype(np.int64) * n + buyer
    uniq, inverse = np.unique(pair, return_inverse=True)
    return uniq // n, uniq % n, np.bincount(inverse, weights=gmv, minlength=len(uniq))


def _shares(n: int, pair_e: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each pair's share of its entity's total ``weight`` (0 where the total is 0)."""
    total = np.bincount(pair_e, weights=weight, minlength=n)
    return np.where(total[pair_e] > 0, weight / np.maximum(total[pair_e], 1e-12), 0.0)


def _weighted_means(
    n: int, pair_e: np.ndarray, pair_o: np.ndarray, share: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Per entity, the ``share``-weighted sum of ``values[other]`` (n x columns of ``values``)."""
    out = np.empty((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(pair_e, weights=share * values[pair_o, j], minlength=n)
    return out


def _log_size(
    employees: np.ndarray, revenue: np.ndarray, reference: FeatureReference | None
) -> np.ndarray:
    """Log declared revenue, else log employees scaled to revenue by the businesses that
    declare both (median ratio, the reference's when given); NaN where neither is declared."""
    log_rev = np.where(revenue > 0, np.log1p(np.maximum(revenue, 0)), np.nan)
    log_emp = np.where(employees > 0, np.log1p(np.maximum(employees, 0)), np.nan)
    both = np.isfinite(log_rev) & np.isfinite(log_emp)
    if reference is not None:
        offset = reference.size_offset
    else:
        offset = float(np.median(log_rev[both] - log_emp[both])) if both.any() else 0.0
    return np.where(np.isfinite(log_rev), log_rev, log_emp + offset)


def _distress_score(
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


def _distress_aggregates(
    n: int,
    pairs_year: tuple[np.ndarray, np.ndarray, np.ndarray],
    pairs_recent: tuple[np.ndarray, np.ndarray, np.ndarray],
    score: np.ndarray,
    silent: np.ndarray,
    side: str,
) -> dict[str, np.ndarray]:
    """``DISTRESS_AGGREGATES`` over one side: ``side="buyers"`` aggregates a seller's buyers."""
    flag = (score >= DISTRESSED_PERCENTILE).astype(float)
    seller, buyer, gmv = pairs_year
    e, o = (seller, buyer) if side == "buyers" else (buyer, seller)
    share = _shares(n, e, gmv)
    out: dict[str, np.ndarray] = {
        "share_distressed": np.bincount(e, weights=share * flag[o], minlength=n),
        "share_silent": np.bincount(e, weights=share * silent[o], minlength=n),
        "wmean_distress": np.bincount(e, weights=share * score[o], minlength=n),
    }
    top = np.zeros(n)
    major = share >= MAX_SHARE
    np.maximum.at(top, e[major], score[o[major]])
    out["max_distress"] = top
    out["share_distressed_2hop"] = np.bincount(
        e, weights=share * out["share_distressed"][o], minlength=n
    )
    r_seller, r_buyer, r_gmv = pairs_recent
    r_e, r_o = (r_seller, r_buyer) if side == "buyers" else (r_buyer, r_seller)
    out["share_distressed_90d"] = np.bincount(
        r_e, weights=_shares(n, r_e, r_gmv) * flag[r_o], minlength=n
    )
    return {f"{side}_{name}": out[name] for name in DISTRESS_AGGREGATES}


def _known_events(
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


def _profile_features(
    biz: pd.DataFrame,
    tenure: np.ndarray,
    cols: dict[str, np.ndarray],
    seller: np.ndarray,
    buyer: np.ndarray,
    age: np.ndarray,
    gmv: np.ndarray,
    reference: FeatureReference | None,
) -> dict[str, np.ndarray]:
    """Tenure, kind, declared size and the two distress signals (``activity_to_size``,
    ``silent``) from the business row and its year of trade; ``cols`` holds the role features.
    Also ``_sized`` (1 where a size was declared), which the distress score needs."""
    n = len(biz)
    out: dict[str, np.ndarray] = {"tenure_days": tenure}
    out["is_thin_file"] = (tenure < THIN_FILE_DAYS).astype(float)
    kind = biz["kind"].astype(str).to_numpy()
    out["is_enterprise"] = (kind == "enterprise").astype(float)
    out["is_consumer"] = (kind == "consumer").astype(float)
    employees = pd.to_numeric(biz["employees"], errors="coerce").to_numpy(float, na_value=np.nan)
    revenue = pd.to_numeric(biz["declared_revenue"], errors="coerce").to_numpy(
        float, na_value=np.nan
    )
    out["log_employees"] = np.nan_to_num(np.log1p(np.maximum(employees, 0)), nan=0.0)
    out["log_declared_revenue"] = np.nan_to_num(np.log1p(np.maximum(revenue, 0)), nan=0.0)
    out["declared_missing"] = (np.isnan(employees) | np.isnan(revenue)).astype(float)
    year = age < 365
    sales = np.log1p(np.bincount(seller[year], weights=gmv[year], minlength=n))
    out["sales_to_declared"] = np.where(
        np.isnan(revenue) | (revenue <= 0), 0.0, sales - out["log_declared_revenue"]
    )
    year_gmv = np.bincount(seller[year], weights=gmv[year], minlength=n)
    year_gmv += np.bincount(buyer[year], weights=gmv[year], minlength=n)
    annualised = year_gmv * 365.0 / np.clip(tenure, 30.0, 365.0)
    log_size = _log_size(employees, revenue, reference)
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


def _counterparty_features(
    own: pd.DataFrame,
    cols: dict[str, np.ndarray],
    sized: np.ndarray,
    pairs_year: tuple[np.ndarray, np.ndarray, np.ndarray],
    pairs_recent: tuple[np.ndarray, np.ndarray, np.ndarray],
    recent_default: np.ndarray,
    reference: FeatureReference | None,
) -> dict[str, np.ndarray]:
    """``COUNTERPARTY_FEATURES`` of every business: trade-share weighted means of its
    buyers' and suppliers' ``COUNTERPARTY_KEYS``, their distress and their known defaults."""
    n = len(own)
    pair_s, pair_b, pair_gmv = pairs_year
    keys = own[COUNTERPARTY_KEYS].to_numpy(float)
    year_orders = cols["seller_orders_365d"] + cols["buyer_orders_365d"]
    score = _distress_score(
        cols["activity_to_size"],
        sized & (year_orders > 0),
        cols["silent"],
        cols["is_consumer"] > 0,
        reference,
    )
    out: dict[str, np.ndarray] = {}
    for side, e, o in (("buyers", pair_s, pair_b), ("suppliers", pair_b, pair_s)):
        share = _shares(n, e, pair_gmv)
        means = _weighted_means(n, e, o, share, keys)
        out |= {f"{side}_wmean_{key}": means[:, j] for j, key in enumerate(COUNTERPARTY_KEYS)}
        out |= _distress_aggregates(n, pairs_year, pairs_recent, score, cols["silent"], side)
        out[f"{side}_share_defaulted_90d"] = np.bincount(
            e, weights=share * recent_default[o], minlength=n
        )
        out[f"{side}_share_defaulted_365d"] = np.bincount(
            e, weights=share * cols["known_default_365d"][o], minlength=n
        )
    return out


def compute_features(
    businesses: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    identifiers: pd.DataFrame | None = None,
    credit_events: pd.DataFrame | None = None,
    hub_threshold: int = DEFAULT_HUB_THRESHOLD,
    counterparty_days: float = 365.0,
    reference: FeatureReference | None = None,
) -> pd.DataFrame:
    """Features of every business registered strictly before ``as_of``.

    ``credit_events`` (``CREDIT_EVENT_COLUMNS``; only those strictly before ``as_of`` are
    read) feed ``KNOWN_EVENT_FEATURES`` and ``EVENT_AGGREGATES``; without them those are 0.
    ``counterparty_days``: the trade window that decides who counts as a counterparty and with
    what share (a year for a live marketplace; a sparse history such as a ratings network
    needs it to cover the whole history, or most labelled rows get no counterparties at all).
    ``reference``: population figures frozen at training (:class:`FeatureReference`); without
    it they are taken from the businesses passed, as at training.

    Returns a frame indexed by ``business_id`` with float columns
    ``own_feature_names(windows) + COUNTERPARTY_FEATURES`` (``OWN_FEATURES`` for the default
    windows). Uses only orders with ``ts < as_of``, with statuses as of ``as_of``.
    """
    as_of = as_utc(as_of)
    if 365 not in windows or 90 not in windows:
        raise ValueError("windows must include 90 and 365 (rates and growth use them)")
    biz = businesses[businesses["registered_at"] < as_of]
    ids = pd.Index(biz["business_id"].astype(str).to_numpy())
    n = len(ids)
    t0 = as_of.timestamp()

    past = orders[orders["ts"] < as_of]
    seller = ids.get_indexer(past["seller_id"].astype(str))
    buyer = ids.get_indexer(past["buyer_id"].astype(str))
    known = (seller >= 0) & (buyer >= 0)
    past, seller, buyer = past[known], seller[known], buyer[known]
    status = np.where(
        (past["status_at"] >= as_of).to_numpy(bool),
        "completed",
        past["status"].astype(str).to_numpy(),
    )
    ts = _seconds(past["ts"])
    age = (t0 - ts) / _DAY
    gmv = np.where(status == "cancelled", 0.0, past["amount_base"].to_numpy(float))

    cols: dict[str, np.ndarray] = {}
    cols |= _role_features(n, seller, buyer, age, gmv, status, ts, windows, "seller")
    cols |= _role_features(n, buyer, seller, age, gmv, status, ts, windows, "buyer")

    tenure = (t0 - _seconds(biz["registered_at"])) / _DAY
    cols |= _profile_features(biz, tenure, cols, seller, buyer, age, gmv, reference)
    cols |= _identifier_features(ids, identifiers, hub_threshold)
    recent_default = _known_events(ids, credit_events, as_of, "defaulted", 90)
    cols["known_default_365d"] = _known_events(ids, credit_events, as_of, "defaulted", 365)
    cols["known_fraud_365d"] = _known_events(ids, credit_events, as_of, "fraud_confirmed", 365)

    own = pd.DataFrame(cols, index=ids)[own_feature_names(windows)]

    year, recent = age < counterparty_days, age < 90
    pairs_year = _trade_pairs(n, seller[year], buyer[year], gmv[year])
    pairs_recent = _trade_pairs(n, seller[recent], buyer[recent], gmv[recent])
    sized = cols.pop("_sized") > 0
    cp_cols = _counterparty_features(
        own, cols, sized, pairs_year, pairs_recent, recent_default, reference
    )
    cp = pd.DataFrame(cp_cols, index=ids)[COUNTERPARTY_FEATURES]
    out = pd.concat([own, cp], axis=1).astype(float)
    out.index.name = "business_id"
    return out
