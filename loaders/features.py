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

from loaders import feature_kernels as fk
from loaders.columns import HUB_THRESHOLD, as_utc
from loaders.positions import member, positions

DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 365)
ROLES: tuple[str, ...] = ("seller", "buyer")
DEFAULT_HUB_THRESHOLD = HUB_THRESHOLD


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
    sold, bought = _trades(orders, ids, as_of)
    if reference is not None:
        size_offset = reference.size_offset
    else:
        size_offset = fk.population_size_offset(*fk.declared_size(biz))
    cols = fk.own_block(
        biz, sold, bought, as_of, windows=windows, size_offset=size_offset,
        credit_events=credit_events,
    )  # fmt: skip
    links = None if identifiers is None else _links(identifiers, ids, hub_threshold)
    cols |= fk.identifier_features(ids, links if links is not None else pd.DataFrame())
    own = pd.DataFrame(cols, index=ids)
    own["distress"] = population_distress(own, reference)
    pairs = fk.window_pairs(sold, counterparty_days)
    cp = counterparty_features(n, pairs, own)
    out = pd.concat([own[own_feature_names(windows)], cp], axis=1).astype(float)
    out.index.name = "business_id"
    return out


_TRADE_COLUMNS = ("seller_id", "buyer_id", "ts", "status", "status_at", "amount_base")


def _trades(
    orders: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp
) -> tuple[fk.Trades, fk.Trades]:
    """Orders before ``as_of`` between businesses in ``ids``, from each side."""
    # Only the columns read below: a filter copies every column it keeps.
    past = orders.loc[(orders["ts"] < as_of).to_numpy(), list(_TRADE_COLUMNS)]
    seller, buyer = positions(past["seller_id"], ids), positions(past["buyer_id"], ids)
    known = (seller >= 0) & (buyer >= 0)
    past, seller, buyer = past[known], seller[known], buyer[known]
    status, ts, age, gmv = fk.trade_arrays(past, as_of)
    return (
        fk.Trades(seller, buyer, age, gmv, status, ts),
        fk.Trades(buyer, seller, age, gmv, status, ts),
    )


def _links(identifiers: pd.DataFrame, ids: pd.Index, hub_threshold: int) -> pd.DataFrame:
    """Identifier links among the businesses in ``ids`` (others' identifiers are not seen)."""
    held = identifiers[member(identifiers["business_id"], ids)]
    return fk.identifier_links(held, hub_threshold)


def population_distress(own: pd.DataFrame, reference: FeatureReference | None) -> np.ndarray:
    """Each business's distress score (:func:`loaders.feature_kernels.distress_scores`) from
    its own features: a percentile over the whole population, or the reference's."""
    year_orders = own["seller_orders_365d"] + own["buyer_orders_365d"]
    return fk.distress_scores(
        own["activity_to_size"].to_numpy(float),
        (own["_sized"].to_numpy(float) > 0) & (year_orders.to_numpy(float) > 0),
        own["silent"].to_numpy(float),
        own["is_consumer"].to_numpy(float) > 0,
        reference,
    )


def counterparty_features(
    n: int,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    own: pd.DataFrame,
) -> pd.DataFrame:
    """``COUNTERPARTY_FEATURES`` of every business from :func:`loaders.feature_kernels.
    window_pairs` over the whole population and the own frame (with ``distress``)."""
    seller, buyer, gmv, recent = pairs
    values = own.rename(columns={"_recent_default": "recent_default"})
    columns = [*COUNTERPARTY_KEYS, *fk.COUNTERPARTY_SIGNALS]
    matrix = values[columns].to_numpy(float)
    out: dict[str, np.ndarray] = {}
    for side, e, o in (("buyers", seller, buyer), ("suppliers", buyer, seller)):
        other = {c: matrix[o, j] for j, c in enumerate(columns)}
        side_cols = fk.side_aggregates(n, e, gmv, other, COUNTERPARTY_KEYS)
        side_cols["share_distressed_90d"] = fk.recent_distress_share(
            n, e, recent, other["distress"]
        )
        side_cols["share_distressed_2hop"] = fk.two_hop_distress(
            n, e, gmv, side_cols["share_distressed"][o]
        )
        out |= {f"{side}_{name}": v for name, v in side_cols.items()}
    return pd.DataFrame(out, index=own.index)[COUNTERPARTY_FEATURES]
