"""Contagion, failures and the outcome labels.

Month by month, a seller's *stress* is its own health minus what it is owed (receivables,
weighted by money owed) by distressed buyers, by buyers that failed in the last six months
(written off) and, two hops away, by its buyers' buyers; each channel bites with a lag
(``receivables_memory``). Its monthly default hazard is a logistic function of stress.
Rings bust out on their planned month; lone fraudsters stop when caught.

``default_mechanism="supply"`` (a separate generator setting, for robustness checks) turns
the direction around: a *buyer* is stressed by the share of its purchases that comes from
suppliers in distress or recently failed (inputs it can no longer get) and, two hops up, from
its suppliers' suppliers - shocks travel down the supply chain instead of up it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.population import KIND_CONSUMER, KIND_SME, Population
from loaders.synthetic.trade import Links

NO_FAILURE = np.iinfo(np.int64).max
FAIL_NONE, FAIL_DEFAULT, FAIL_BUST_OUT, FAIL_CAUGHT = 0, 1, 2, 3
_UNPAID_MONTHS = 6


@dataclass
class Failures:
    """When and why each business stopped trading, plus the monthly contagion state."""

    fail_time: np.ndarray  # int64 seconds since epoch; NO_FAILURE if it never did
    fail_reason: np.ndarray  # FAIL_*
    stress: np.ndarray  # n x n_months
    exposure_1hop: np.ndarray  # n x n_months: share owed by distressed or recently failed buyers
    exposure_2hop: np.ndarray  # n x n_months: the same, one hop further


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _random_time_in_month(
    pop: Population, months: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    starts = pop.month_seconds
    lo, hi = starts[months], starts[months + 1]
    return lo + (rng.random(len(months)) * (hi - lo)).astype(np.int64)


def _exposure_links(
    config: SyntheticConfig,
    links: Links,
    health: np.ndarray,
    alive: np.ndarray,
    recently_failed: np.ndarray,
    can_default: np.ndarray,
    m: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links active in month ``m`` as (exposed party, counterparty, weight): seller,
    buyer and money owed for ``receivables``; buyer, supplier and purchases for ``supply``."""
    s, b = links.seller, links.buyer
    if config.default_mechanism == "supply":
        active = (links.start <= m) & (links.end > m) & alive[b] & (alive[s] | recently_failed[s])
        return b[active], s[active], links.rate[active] * links.amount[active]
    active = (links.start <= m) & (links.end > m) & alive[s] & (alive[b] | recently_failed[b])
    s, b = s[active], b[active]
    # Money owed: the buyer's expected purchases at its usual (healthy-looking) pace.
    pace = np.exp(config.activity_health_slope * np.clip(health[b, m], -3.5, 2.5))
    return s, b, links.rate[active] * links.amount[active] * np.where(can_default[b], pace, 1.0)


def simulate_failures(
    config: SyntheticConfig,
    pop: Population,
    health: np.ndarray,
    links: Links,
    rng: np.random.Generator,
) -> Failures:
    """Walk the months, spreading distress from buyers to their sellers, and draw failures."""
    n, n_months = pop.n, pop.n_months
    fail_month = np.full(n, NO_FAILURE, dtype=np.int64)
    fail_reason = np.zeros(n, dtype=np.int8)
    stress = np.zeros((n, n_months))
    exp1 = np.zeros((n, n_months))
    exp2 = np.zeros((n, n_months))
    owed1 = np.zeros(n)  # receivables stress carried from earlier months (unpaid invoices)
    owed2 = np.zeros(n)
    written_off = np.zeros(n)  # the same for invoices of buyers that failed (never paid)
    keep = config.receivables_memory
    can_default = pop.kind != KIND_CONSUMER
    ring = pop.ring_id >= 0
    organic = can_default & ~ring

    for m in range(n_months):
        exists = pop.active_from <= m
        alive = exists & (fail_month > m)
        recently_failed = exists & (fail_month <= m) & (fail_month > m - _UNPAID_MONTHS)
        distress = np.where(
            alive,
            _sigmoid((config.distress_threshold - health[:, m]) / config.distress_softness),
            0.0,
        )
        distress[~can_default] = 0.0
        gone = (recently_failed & can_default).astype(float)

        s, b, w = _exposure_links(config, links, health, alive, recently_failed, can_default, m)
        total = np.bincount(s, weights=w, minlength=n)
        share = w / total[s]
        d1 = np.bincount(s, weights=share * distress[b], minlength=n)
        lost = np.bincount(s, weights=share * gone[b], minlength=n)
        e1 = d1 + lost
        e2 = np.bincount(s, weights=share * e1[b], minlength=n)
        owed1 = keep * owed1 + (1.0 - keep) * d1
        owed2 = keep * owed2 + (1.0 - keep) * e2
        written_off = keep * written_off + (1.0 - keep) * lost
        stress_m = (
            health[:, m]
            - config.contagion_1hop * owed1
            - config.contagion_writeoff * written_off
            - config.contagion_2hop * owed2
        )
        stress[:, m], exp1[:, m], exp2[:, m] = stress_m, e1, e2

        hazard = _sigmoid(config.default_intercept - config.default_slope * stress_m)
        fails = organic & alive & (rng.random(n) < hazard)
        fail_month[fails] = m
        fail_reason[fails] = FAIL_DEFAULT

        busting = alive & ring & (pop.bust_out_month == m)
        fail_month[busting] = m
        fail_reason[busting] = FAIL_BUST_OUT
        caught = alive & (pop.lone_fraud_month == m)
        fail_month[caught] = m
        fail_reason[caught] = FAIL_CAUGHT

    failed = fail_month != NO_FAILURE
    fail_time = np.full(n, NO_FAILURE, dtype=np.int64)
    fail_time[failed] = _random_time_in_month(pop, fail_month[failed], rng)
    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    fail_time[failed] = np.maximum(fail_time[failed], registered[failed] + 86_400)
    return Failures(fail_time, fail_reason, stress, exp1, exp2)


def make_outcomes(config: SyntheticConfig, pop: Population, failures: Failures) -> pd.DataFrame:
    """One row per (SME alive at as_of, as_of) for every score date of
    ``config.outcome_timestamps``: ``defaulted`` for credit SMEs, ``fraud`` for all. The window
    is the contract's ``(as_of, as_of + horizon]``, so these rows equal the labels derived
    from the ``credit_events`` table (events.py) wherever both exist."""
    registered = pop.registered_at.astype("datetime64[s]").astype(np.int64)
    horizon = config.horizon_days * 86_400
    frames = []
    for as_of in config.outcome_timestamps:
        t0 = int(as_of.timestamp())
        eligible = (pop.kind == KIND_SME) & (registered < t0) & (failures.fail_time >= t0)
        within = (failures.fail_time > t0) & (failures.fail_time <= t0 + horizon)
        defaulted = within & np.isin(failures.fail_reason, (FAIL_DEFAULT, FAIL_BUST_OUT))
        fraud = within & np.isin(failures.fail_reason, (FAIL_BUST_OUT, FAIL_CAUGHT))
        idx = np.flatnonzero(eligible)
        frames.append(
            pd.DataFrame(
                {
                    "business_id": pop.business_id[idx],
                    "as_of": as_of.strftime("%Y-%m-%d"),
                    "defaulted": pd.array(
                        np.where(pop.has_credit[idx], defaulted[idx].astype(float), np.nan),
                        dtype="Int8",
                    ),
                    "fraud": pd.array(fraud[idx].astype(np.int8), dtype="Int8"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
