"""Who is on the marketplace: kinds, industries, regions, sizes, arrivals, credit, groups, rings.

Everything is a numpy array of length ``n_businesses`` (index = business number), so later
stages index it directly. Time is counted in whole months from ``config.start`` (month 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loaders.synthetic.config import SyntheticConfig

#: SME/enterprise industries; consumers get the pseudo-industry "consumer".
INDUSTRIES: tuple[str, ...] = (
    "agriculture",
    "raw_materials",
    "food_processing",
    "textiles",
    "manufacturing",
    "construction",
    "wholesale",
    "apparel",
    "retail",
    "restaurants",
    "logistics",
    "professional_services",
)
CONSUMER_INDUSTRY = "consumer"
INDUSTRY_SHARES: tuple[float, ...] = (
    0.08, 0.05, 0.07, 0.05, 0.10, 0.07, 0.10, 0.07, 0.18, 0.12, 0.06, 0.05,
)  # fmt: skip
#: Month of the year (1-12) in which each industry sells most.
SEASON_PEAK: tuple[int, ...] = (9, 4, 10, 3, 11, 7, 11, 10, 12, 7, 11, 3)
#: Typical order value (base currency) of a seller in each industry.
PRICE_LEVEL: tuple[float, ...] = (
    1800.0, 4200.0, 2500.0, 2200.0, 3800.0, 5200.0, 2600.0, 1400.0, 650.0, 380.0, 900.0, 1500.0,
)  # fmt: skip

KIND_SME, KIND_CONSUMER, KIND_ENTERPRISE = 0, 1, 2
KIND_NAMES: tuple[str, ...] = ("sme", "consumer", "enterprise")

#: Region codes (province/state-like); weights fall off by rank (regional clustering).
REGION_CODES: tuple[str, ...] = (
    "CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "WA", "AZ",
    "MA", "TN", "IN", "MO", "MD", "WI", "CO", "MN",
)  # fmt: skip


@dataclass
class Population:
    """Per-business arrays (length n) plus the ring table; see the package docstring."""

    business_id: np.ndarray  # str
    kind: np.ndarray  # int8, KIND_*
    industry: np.ndarray  # int16 index into INDUSTRIES, -1 for consumers
    region: np.ndarray  # int16 index into REGION_CODES
    registered_at: np.ndarray  # datetime64[s]
    active_from: np.ndarray  # int, first month it can trade (0 = from the start)
    size: np.ndarray  # float, heavy-tailed activity
    has_credit: np.ndarray  # bool
    family_group: np.ndarray  # int, -1 = none
    warehouse: np.ndarray  # int, -1 = none
    ring_id: np.ndarray  # int, -1 = none
    bust_out_month: np.ndarray  # int, -1 = none (ring members only)
    lone_fraud_month: np.ndarray  # int, -1 = none: month a lone fraudster is caught
    n_months: int
    month_starts: pd.DatetimeIndex  # n_months + 1 boundaries
    #: int, -1 = none: the innocent look-alike group (an accountant's clients, co-working
    #: tenants, users of a lent device or of an aggregator's account) a camouflaged
    #: marketplace put the business in; ground truth only, set with the identifiers.
    lookalike_group: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.business_id)

    @property
    def month_seconds(self) -> np.ndarray:
        """Month boundaries as int64 seconds since the epoch."""
        return self.month_starts.as_unit("s").asi8


def month_grid(config: SyntheticConfig) -> pd.DatetimeIndex:
    """Month boundaries from ``start`` through the month holding ``end`` (UTC)."""
    start = pd.Timestamp(config.start, tz="UTC").normalize()
    end = pd.Timestamp(config.end, tz="UTC")
    months = pd.date_range(start, end, freq="MS")
    return months.append(pd.DatetimeIndex([months[-1] + pd.offsets.MonthBegin(1)]))


def _month_of(times: pd.DatetimeIndex | pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
    """Month index of each time on ``grid`` (negative before the start)."""
    t = pd.DatetimeIndex(times)
    start = grid[0]
    return ((t.year - start.year) * 12 + (t.month - start.month)).to_numpy().astype(np.int64)


def make_population(config: SyntheticConfig, rng: np.random.Generator) -> Population:
    """Draw the businesses; rings are new accounts opened together, so they set their own dates.

    The draws happen in a fixed order (profile, registration, credit, roles): changing it
    changes every generated marketplace of a seed."""
    n = config.n_businesses
    grid = month_grid(config)
    n_months = len(grid) - 1
    kind, industry, region, size = _draw_profile(config, rng)
    registered = _draw_registration(config, rng, grid)
    is_sme = kind == KIND_SME
    older = registered < grid[0].to_datetime64()
    credit_p = np.clip(config.credit_share + 0.15 * older - 0.1, 0.05, 0.95)
    has_credit = is_sme & (rng.random(n) < credit_p)
    roles = _assign_roles(config, rng, is_sme, registered, has_credit, grid)

    active_from = np.maximum(_month_of(pd.DatetimeIndex(registered, tz="UTC"), grid) + 1, 0)
    width = max(6, len(str(n)))
    business_id = np.array([f"B{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    return Population(
        business_id=business_id,
        kind=kind,
        industry=industry,
        region=region,
        registered_at=registered,
        active_from=active_from,
        size=size,
        has_credit=has_credit,
        family_group=roles["family_group"],
        warehouse=roles["warehouse"],
        ring_id=roles["ring_id"],
        bust_out_month=roles["bust_out"],
        lone_fraud_month=roles["lone_fraud"],
        n_months=n_months,
        month_starts=grid,
    )


def _draw_profile(
    config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kind, industry (-1 for consumers), region (Zipf) and size (log-normal) per business."""
    n = config.n_businesses
    kind = rng.choice(
        3,
        size=n,
        p=[1 - config.share_consumer - config.share_enterprise, config.share_consumer,
           config.share_enterprise],
    ).astype(np.int8)  # fmt: skip
    shares = np.asarray(INDUSTRY_SHARES) / np.sum(INDUSTRY_SHARES)
    industry = rng.choice(len(INDUSTRIES), size=n, p=shares).astype(np.int16)
    industry[kind == KIND_CONSUMER] = -1

    n_regions = min(config.n_regions, len(REGION_CODES))
    region_w = 1.0 / np.arange(1, n_regions + 1) ** config.region_zipf
    region = rng.choice(n_regions, size=n, p=region_w / region_w.sum()).astype(np.int16)

    size = rng.lognormal(0.0, config.size_sigma, size=n)
    size[kind == KIND_ENTERPRISE] *= config.enterprise_size_factor
    size[kind == KIND_CONSUMER] = rng.lognormal(-1.0, 0.5, size=int((kind == KIND_CONSUMER).sum()))
    return kind, industry, region, size


def _draw_registration(
    config: SyntheticConfig, rng: np.random.Generator, grid: pd.DatetimeIndex
) -> np.ndarray:
    """Registration dates (``datetime64[s]`` at midnight): established businesses before the
    simulated period, the others during it."""
    n = config.n_businesses
    first = pd.Timestamp(config.first_registration, tz="UTC")
    start = grid[0]
    last = pd.Timestamp(config.last_registration, tz="UTC")
    established = rng.random(n) < config.share_established
    old_span = (start - first).total_seconds()
    new_span = (last - start).total_seconds()
    offsets = np.where(
        established, -old_span * rng.random(n) - 86_400, new_span * rng.random(n)
    ).astype(np.int64)
    registered = start.to_datetime64().astype("datetime64[s]") + offsets.astype("timedelta64[s]")
    return registered.astype("datetime64[D]").astype("datetime64[s]")  # dates, not times


def _assign_roles(
    config: SyntheticConfig,
    rng: np.random.Generator,
    is_sme: np.ndarray,
    registered: np.ndarray,
    has_credit: np.ndarray,
    grid: pd.DatetimeIndex,
) -> dict[str, np.ndarray]:
    """Fraud rings (which reset their members' registration and credit in place), lone
    fraudsters, families and warehouse tenants, drawn from disjoint SMEs in that order."""
    n, n_months = config.n_businesses, len(grid) - 1
    roles = {
        name: np.full(n, -1, dtype=np.int64)
        for name in ("family_group", "warehouse", "ring_id", "bust_out", "lone_fraud")
    }
    sme_idx = rng.permutation(np.flatnonzero(is_sme))
    cursor = 0

    # Fraud rings: fresh accounts opened within weeks of each other, busting out together.
    n_ring_members = round(config.ring_share * len(sme_idx))
    ring_no = 0
    while n_ring_members - cursor >= config.ring_size_min and cursor < len(sme_idx):
        k = int(rng.integers(config.ring_size_min, config.ring_size_max + 1))
        members = sme_idx[cursor : cursor + k]
        cursor += len(members)
        opened = int(rng.integers(0, max(1, n_months - 14)))
        roles["ring_id"][members] = ring_no
        roles["bust_out"][members] = min(opened + int(rng.integers(7, 19)), n_months + 6)
        day0 = grid[opened].to_datetime64().astype("datetime64[s]")
        jitter = rng.integers(0, 45 * 86_400, size=len(members)).astype("timedelta64[s]")
        registered[members] = (day0 + jitter).astype("datetime64[D]").astype("datetime64[s]")
        has_credit[members] = rng.random(len(members)) < 0.95
        ring_no += 1

    # Lone fraudsters: ordinary-looking sellers who stop delivering and get caught.
    n_lone = round(config.lone_fraud_share * len(sme_idx))
    lone = sme_idx[cursor : cursor + n_lone]
    cursor += len(lone)
    roles["lone_fraud"][lone] = rng.integers(3, n_months, size=len(lone))

    # Families: 2-4 businesses under one owner (innocent identifier sharing).
    n_family = round(config.family_share * len(sme_idx))
    group = 0
    stop = cursor + n_family
    while cursor < min(stop, len(sme_idx)) - 1:
        k = int(rng.integers(2, 5))
        roles["family_group"][sme_idx[cursor : cursor + k]] = group
        cursor += k
        group += 1

    # Shared warehouses: many unrelated tenants at one address (a hub identifier).
    lo, hi = config.warehouse_tenants
    for w in range(config.n_warehouses):
        k = int(rng.integers(lo, hi + 1))
        tenants = sme_idx[cursor : cursor + k]
        roles["warehouse"][tenants] = w
        cursor += len(tenants)
    return roles
