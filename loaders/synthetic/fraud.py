"""Planted fraud rings: circular trade at inflated, round amounts until they bust out together.

Members of a ring (chosen in ``population``) open their accounts within weeks of each other,
sell to each other around a cycle (plus a few chords) at round amounts that grow month by month
to build a credit history, and all fail on the ring's bust-out month. Their shared identifiers
are planted in ``identifiers``; their stocking-up on real suppliers in ``orders``.
"""

from __future__ import annotations

import numpy as np

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.orders import STATUS_COMPLETED, Orders
from loaders.synthetic.outcomes import Failures
from loaders.synthetic.population import Population


def make_ring_orders(
    config: SyntheticConfig, pop: Population, failures: Failures, rng: np.random.Generator
) -> Orders:
    """All ring-internal orders; amounts are base currency, status always completed."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    starts = pop.month_seconds
    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    amounts = np.asarray(config.ring_round_amounts, dtype=float)
    for ring in np.unique(pop.ring_id[pop.ring_id >= 0]):
        members = np.flatnonzero(pop.ring_id == ring)
        k = len(members)
        sellers = list(members)
        buyers = list(np.roll(members, -1))
        for _ in range(max(1, k // 3)):  # chords make it more than a simple cycle
            a, b = rng.choice(members, size=2, replace=False)
            sellers.append(a)
            buyers.append(b)
        seller_arr, buyer_arr = np.asarray(sellers), np.asarray(buyers)
        first = int(pop.active_from[members].max())
        last = min(int(pop.bust_out_month[members[0]]) + 1, pop.n_months)
        for m in range(first, last):
            ramp = 0.5 + 1.5 * (m - first) / max(1, last - first)
            lam = config.ring_orders_per_month * ramp / len(seller_arr) * k
            counts = rng.poisson(lam, size=len(seller_arr))
            s = np.repeat(seller_arr, counts)
            b = np.repeat(buyer_arr, counts)
            ts = starts[m] + (rng.random(len(s)) * (starts[m + 1] - starts[m])).astype(np.int64)
            tier = np.minimum(
                (rng.random(len(s)) * len(amounts) * (0.4 + 0.6 * ramp / 2)).astype(int),
                len(amounts) - 1,
            )
            parts.append((s, b, ts, amounts[tier]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Orders(empty, empty, empty, np.zeros(0), empty.astype(np.int8), empty, empty,
                      np.zeros(0, dtype=bool))  # fmt: skip
    s, b, ts, amt = (np.concatenate(x) for x in zip(*parts, strict=True))
    keep = (
        (ts < failures.fail_time[s])
        & (ts < failures.fail_time[b])
        & (ts > registered[s])
        & (ts > registered[b])
    )
    s, b, ts, amt = s[keep], b[keep], ts[keep], amt[keep]
    return Orders(
        seller=s.astype(np.int64),
        buyer=b.astype(np.int64),
        ts=ts,
        amount_base=amt,
        status=np.full(len(s), STATUS_COMPLETED, dtype=np.int8),
        status_at=ts.copy(),
        category=np.full(len(s), -1, dtype=np.int64),
        is_ring=np.ones(len(s), dtype=bool),
    )
