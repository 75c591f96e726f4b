"""Orders along the relationships: counts, times, amounts and statuses, driven by health.

Per relationship-month the order count is Poisson with mean ``rate x seasonality x
exp(a * health_seller) x exp(a * health_buyer)``; statuses are drawn from logits that rise
with the seller's distress (refunds), the buyer's distress (disputes, cancellations) and a
per-business noise term that hides health. Orders stop when either side fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.outcomes import Failures
from loaders.synthetic.population import KIND_CONSUMER, Population
from loaders.synthetic.trade import Links, seasonality

STATUS_COMPLETED, STATUS_REFUNDED, STATUS_DISPUTED, STATUS_CANCELLED = 0, 1, 2, 3
DAY = 86_400


@dataclass
class Orders:
    """Order arrays of equal length; times are int64 seconds since the epoch (UTC)."""

    seller: np.ndarray
    buyer: np.ndarray
    ts: np.ndarray
    amount_base: np.ndarray
    status: np.ndarray  # STATUS_*
    status_at: np.ndarray
    category: np.ndarray  # index into CATEGORY_NAMES, -1 = none
    is_ring: np.ndarray  # bool: a planted circular ring trade

    def __len__(self) -> int:
        return len(self.seller)

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        fields = Orders.__dataclass_fields__
        return Orders(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def behaviour_health(config: SyntheticConfig, health: np.ndarray, failures: Failures) -> np.ndarray:
    """What behaviour reflects: own health plus a part of the contagion stress."""
    return health + config.behaviour_contagion_share * (failures.stress - health)


def expand_link_months(links: Links) -> tuple[np.ndarray, np.ndarray]:
    """(link index, month) for every month each relationship is open."""
    lengths = np.maximum(links.end - links.start, 0)
    link = np.repeat(np.arange(len(links)), lengths)
    offsets = np.arange(len(link)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return link, links.start[link] + offsets


def draw_statuses(
    config: SyntheticConfig,
    seller_distress: np.ndarray,
    buyer_distress: np.ndarray,
    seller_noise: np.ndarray,
    buyer_noise: np.ndarray,
    ts: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Status and status_at per order from the two sides' distress (>0 = worse than average)."""
    k = config.status_health_slope
    refund = _sigmoid(-3.6 + k * seller_distress + seller_noise[:, 0])
    dispute = _sigmoid(
        -4.5 + k * (0.6 * buyer_distress + 0.4 * seller_distress) + buyer_noise[:, 1]
    )
    cancel = _sigmoid(-3.5 + k * (0.5 * buyer_distress + 0.5 * seller_distress) + buyer_noise[:, 2])
    u = rng.random(len(ts))
    status = np.full(len(ts), STATUS_COMPLETED, dtype=np.int8)
    status[u < refund + dispute + cancel] = STATUS_CANCELLED
    status[u < refund + dispute] = STATUS_DISPUTED
    status[u < refund] = STATUS_REFUNDED

    delay = np.zeros(len(ts))
    r = rng.random(len(ts))
    slow = 1.0 + np.clip(buyer_distress, 0.0, 3.0)  # distressed buyers drag disputes out
    delay = np.where(status == STATUS_REFUNDED, (3 + 42 * r) * DAY, delay)
    delay = np.where(status == STATUS_DISPUTED, (7 + 80 * r) * slow * DAY, delay)
    delay = np.where(status == STATUS_CANCELLED, 72 * 3600 * r, delay)
    return status, ts + delay.astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_orders(
    config: SyntheticConfig,
    pop: Population,
    links: Links,
    health: np.ndarray,
    failures: Failures,
    status_noise: np.ndarray,
    rng: np.random.Generator,
) -> Orders:
    """Draw the legitimate orders of every relationship-month."""
    hb = np.clip(behaviour_health(config, health, failures), -3.5, 2.5)
    link, month = expand_link_months(links)
    s, b = links.seller[link], links.buyer[link]
    a = config.activity_health_slope
    season = seasonality(config, pop)[pop.industry[s], month]
    buyer_factor = np.where(pop.kind[b] == KIND_CONSUMER, 1.0, np.exp(a * hb[b, month]))
    lam = links.rate[link] * season * np.exp(a * hb[s, month]) * buyer_factor
    in_distress = _sigmoid((config.distress_threshold - hb) / config.distress_softness)
    in_distress[pop.kind == KIND_CONSUMER] = 0.0
    lam = lam * np.exp(-config.distress_activity_cut * in_distress[b, month])

    # A ring member stocks up on credit from real suppliers just before busting out.
    ring_b = pop.ring_id[b] >= 0
    bust = pop.bust_out_month[b]
    stocking = ring_b & (month >= bust - 2) & (month < bust)
    lam = np.where(stocking, lam * 5.0, lam)

    counts = rng.poisson(lam)
    cell = np.repeat(np.arange(len(link)), counts)
    link_o, month_o = link[cell], month[cell]
    s_o, b_o = links.seller[link_o], links.buyer[link_o]
    starts = pop.month_seconds
    lo, hi = starts[month_o], starts[month_o + 1]
    ts = lo + (rng.random(len(cell)) * (hi - lo)).astype(np.int64)

    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    keep = (
        (ts < failures.fail_time[s_o])
        & (ts < failures.fail_time[b_o])
        & (ts > registered[s_o])
        & (ts > registered[b_o])
    )
    link_o, month_o, s_o, b_o, ts = (x[keep] for x in (link_o, month_o, s_o, b_o, ts))
    stocking_o = stocking[cell[keep]]

    amount = links.amount[link_o] * rng.lognormal(0.0, 0.35, size=len(ts))
    amount = np.where(stocking_o, amount * 3.0, amount)
    amount = np.round(np.maximum(amount, 1.0), 2)

    seller_distress = -hb[s_o, month_o]
    buyer_distress = np.where(pop.kind[b_o] == KIND_CONSUMER, 0.0, -hb[b_o, month_o])
    # A buyer past the distress threshold pays late and contests invoices: a step, not a slope.
    buyer_noise = status_noise[b_o].copy()
    buyer_noise[:, 1] += config.distress_dispute_boost * in_distress[b_o, month_o]
    buyer_noise[:, 2] += 0.5 * config.distress_dispute_boost * in_distress[b_o, month_o]
    lone = pop.lone_fraud_month[s_o]
    scamming = (lone >= 0) & (month_o >= lone - 6)
    seller_noise = status_noise[s_o].copy()
    seller_noise[:, 1] += np.where(scamming, 3.5, 0.0)  # lone fraudster: sells, never delivers
    status, status_at = draw_statuses(
        config, seller_distress, buyer_distress, seller_noise, buyer_noise, ts, rng
    )
    # Disputes are raised by the buyer; a scamming seller's buyers dispute.
    status = np.where(scamming & (rng.random(len(ts)) < 0.35), STATUS_DISPUTED, status).astype(
        np.int8
    )
    status_at = np.where(scamming & (status == STATUS_DISPUTED) & (status_at == ts),
                         ts + 14 * DAY, status_at)  # fmt: skip
    return Orders(
        seller=s_o,
        buyer=b_o,
        ts=ts,
        amount_base=amount,
        status=status,
        status_at=status_at,
        category=links.category[link_o],
        is_ring=np.zeros(len(ts), dtype=bool),
    )


def plant_failure_disputes(
    config: SyntheticConfig, orders: Orders, failures: Failures, rng: np.random.Generator
) -> None:
    """Orders a buyer placed shortly before it failed turn disputed *after* the failure.

    This is what makes leakage visible: at a score date between the order and the failure
    the order still looks completed; reading its final status would reveal the future.
    """
    fail = failures.fail_time[orders.buyer]
    window = config.leak_dispute_days * DAY
    hit = (
        (fail != np.iinfo(np.int64).max)
        & (orders.ts >= fail - window)
        & (orders.ts < fail)
        & (orders.status == STATUS_COMPLETED)
        & (rng.random(len(orders)) < config.leak_dispute_prob)
    )
    orders.status[hit] = STATUS_DISPUTED
    orders.status_at[hit] = fail[hit] + (rng.random(int(hit.sum())) * 60 * DAY).astype(np.int64)
