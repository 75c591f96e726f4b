"""Trade relationships (who buys from whom) and the orders that flow along them.

Relationships follow an industry supply chain (``SUPPLIERS``), prefer the buyer's own region,
and attach preferentially to large sellers, so degrees are heavy-tailed. Each relationship is a
repeat-trade pair with its own order rate, typical order value and lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.population import (
    INDUSTRIES,
    KIND_CONSUMER,
    KIND_ENTERPRISE,
    KIND_SME,
    PRICE_LEVEL,
    SEASON_PEAK,
    Population,
)

_I = {name: i for i, name in enumerate(INDUSTRIES)}
#: For a buyer's industry, the industries it buys from and how much (rows sum to 1 after norm).
SUPPLIERS: dict[str, dict[str, float]] = {
    "agriculture": {"raw_materials": 0.4, "manufacturing": 0.3, "logistics": 0.2,
                    "professional_services": 0.1},
    "raw_materials": {"manufacturing": 0.4, "logistics": 0.4, "professional_services": 0.2},
    "food_processing": {"agriculture": 0.6, "logistics": 0.2, "manufacturing": 0.1,
                        "professional_services": 0.1},
    "textiles": {"agriculture": 0.3, "raw_materials": 0.4, "logistics": 0.2,
                 "professional_services": 0.1},
    "manufacturing": {"raw_materials": 0.6, "logistics": 0.2, "professional_services": 0.1,
                      "manufacturing": 0.1},
    "construction": {"raw_materials": 0.3, "manufacturing": 0.4, "logistics": 0.2,
                     "professional_services": 0.1},
    "wholesale": {"food_processing": 0.35, "manufacturing": 0.35, "apparel": 0.15,
                  "logistics": 0.1, "professional_services": 0.05},
    "apparel": {"textiles": 0.7, "logistics": 0.2, "professional_services": 0.1},
    "retail": {"wholesale": 0.5, "apparel": 0.2, "food_processing": 0.1, "manufacturing": 0.1,
               "logistics": 0.1},
    "restaurants": {"wholesale": 0.35, "food_processing": 0.3, "agriculture": 0.25,
                    "professional_services": 0.1},
    "logistics": {"manufacturing": 0.5, "professional_services": 0.3, "raw_materials": 0.2},
    "professional_services": {"manufacturing": 0.4, "professional_services": 0.3,
                              "logistics": 0.3},
    "consumer": {"retail": 0.6, "restaurants": 0.3, "apparel": 0.1},
}  # fmt: skip

#: Product categories a seller of each industry lists its goods under.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "agriculture": ("grain", "produce", "livestock"),
    "raw_materials": ("steel", "timber", "chemicals"),
    "food_processing": ("packaged_food", "beverages", "dairy"),
    "textiles": ("fabric", "yarn"),
    "manufacturing": ("machinery", "components", "tools"),
    "construction": ("building_services", "fit_out"),
    "wholesale": ("bulk_food", "bulk_goods", "household"),
    "apparel": ("clothing", "footwear"),
    "retail": ("groceries", "electronics", "home", "clothing"),
    "restaurants": ("catering", "meals"),
    "logistics": ("freight", "warehousing", "courier"),
    "professional_services": ("accounting", "legal", "it_services"),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(sorted({c for cs in CATEGORIES.values() for c in cs}))


@dataclass
class Links:
    """Directed trade relationships seller -> buyer, one row per pair (arrays of equal length)."""

    seller: np.ndarray
    buyer: np.ndarray
    start: np.ndarray  # first month of trade
    end: np.ndarray  # month after the last month of trade (exclusive)
    rate: np.ndarray  # expected orders per month at average health, before seasonality
    amount: np.ndarray  # typical order value, base currency
    category: np.ndarray  # index into CATEGORY_NAMES, -1 = not given

    def __len__(self) -> int:
        return len(self.seller)


class _BucketSampler:
    """Draw one member per query from a keyed bucket, with probability proportional to weight."""

    def __init__(self, members: np.ndarray, keys: np.ndarray, weights: np.ndarray) -> None:
        order = np.lexsort((members, keys))
        self.members = members[order]
        sorted_keys = keys[order]
        self.cum = np.cumsum(weights[order])
        self.unique_keys, first = np.unique(sorted_keys, return_index=True)
        self.lo = np.concatenate(([0.0], self.cum))[first]
        last = np.append(first[1:], len(sorted_keys)) - 1
        self.hi = self.cum[last]

    def sample(self, query: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Member per query key, or -1 where the bucket is empty."""
        pos = np.searchsorted(self.unique_keys, query)
        pos_c = np.minimum(pos, len(self.unique_keys) - 1)
        found = self.unique_keys[pos_c] == query
        lo, hi = self.lo[pos_c], self.hi[pos_c]
        u = lo + rng.random(len(query)) * (hi - lo)
        idx = np.minimum(np.searchsorted(self.cum, u, side="right"), len(self.cum) - 1)
        return np.where(found, self.members[idx], -1)


def _supplier_matrix() -> np.ndarray:
    """Row = buyer industry (last row: consumers), column = seller industry probability."""
    rows = [*INDUSTRIES, "consumer"]
    matrix = np.zeros((len(rows), len(INDUSTRIES)))
    for r, name in enumerate(rows):
        for seller, w in SUPPLIERS[name].items():
            matrix[r, _I[seller]] = w
    return matrix / matrix.sum(axis=1, keepdims=True)


def make_links(config: SyntheticConfig, pop: Population, rng: np.random.Generator) -> Links:
    """Draw the relationships; each buyer opens a heavy-tailed number of them."""
    n, n_months = pop.n, pop.n_months
    scale = pop.size**0.5 / np.mean(pop.size[pop.kind == KIND_SME] ** 0.5)
    mean_links = np.where(
        pop.kind == KIND_SME,
        (config.mean_supplier_links - 1) * scale,
        np.where(pop.kind == KIND_ENTERPRISE, config.enterprise_links - 1,
                 config.consumer_links - 1),
    )  # fmt: skip
    n_links = 1 + rng.poisson(mean_links)
    buyer = np.repeat(np.arange(n), n_links)

    matrix = _supplier_matrix()
    row = np.where(pop.industry[buyer] >= 0, pop.industry[buyer], len(INDUSTRIES))
    cum = np.cumsum(matrix[row], axis=1)
    seller_industry = (rng.random(len(buyer))[:, None] > cum).sum(axis=1)
    seller_industry = np.minimum(seller_industry, len(INDUSTRIES) - 1)

    can_sell = np.flatnonzero(pop.kind != KIND_CONSUMER)
    weights = pop.size[can_sell] ** config.buyer_size_power
    n_regions = int(pop.region.max()) + 1
    local_keys = pop.industry[can_sell].astype(np.int64) * n_regions + pop.region[can_sell]
    local = _BucketSampler(can_sell, local_keys, weights)
    anywhere = _BucketSampler(can_sell, pop.industry[can_sell].astype(np.int64), weights)

    want_local = rng.random(len(buyer)) < config.same_region_prob
    seller = anywhere.sample(seller_industry, rng)
    local_pick = local.sample(seller_industry * n_regions + pop.region[buyer], rng)
    seller = np.where(want_local & (local_pick >= 0), local_pick, seller)

    keep = (seller >= 0) & (seller != buyer)
    seller, buyer = seller[keep], buyer[keep]
    pair = np.unique(seller.astype(np.int64) * n + buyer)
    seller, buyer = (pair // n).astype(np.int64), (pair % n).astype(np.int64)
    m = len(seller)

    # Relationships open once both sides exist (some later, as businesses find each other)
    # and end at a constant churn rate: the rest is repeat trade between established pairs.
    both = np.maximum(pop.active_from[seller], pop.active_from[buyer])
    later = rng.random(m) < 0.35
    start = both + np.where(later, rng.integers(0, n_months, size=m), rng.geometric(0.4, m) - 1)
    start = np.where(both == 0, np.where(later, start, 0), start)
    end = start + rng.geometric(config.link_churn_per_month, size=m)
    start, end = np.minimum(start, n_months), np.minimum(end, n_months)

    consumer_buyer = pop.kind[buyer] == KIND_CONSUMER
    rate = (
        config.orders_per_link_month
        * pop.size[seller] ** 0.25
        * pop.size[buyer] ** 0.4
        * rng.lognormal(0.0, 0.7, size=m)
    )
    rate = np.minimum(rate, 40.0)  # even the busiest pair places at most a few orders a day
    rate[consumer_buyer] *= 0.6
    price = np.asarray(PRICE_LEVEL)[pop.industry[seller]]
    amount = price * pop.size[buyer] ** 0.3 * rng.lognormal(0.0, 0.5, size=m)
    amount[consumer_buyer] *= 0.12

    per_industry = [[CATEGORY_NAMES.index(c) for c in CATEGORIES[name]] for name in INDUSTRIES]
    counts = np.array([len(c) for c in per_industry])
    table = np.full((len(INDUSTRIES), counts.max()), -1, dtype=np.int64)
    for i, cats in enumerate(per_industry):
        table[i, : len(cats)] = cats
    ind = pop.industry[seller]
    category = table[ind, (rng.random(m) * counts[ind]).astype(np.int64)]
    category[rng.random(m) < 0.05] = -1
    return Links(seller, buyer, start, end, rate, amount, category)


def seasonality(config: SyntheticConfig, pop: Population) -> np.ndarray:
    """Multiplier per (industry, month): a yearly cosine peaking in the industry's season."""
    month_of_year = np.asarray(pop.month_starts[:-1].month)
    peak = np.asarray(SEASON_PEAK)[:, None]
    phase = 2 * np.pi * (month_of_year[None, :] - peak) / 12.0
    return 1.0 + config.seasonality_amplitude * np.cos(phase)
