"""A synthetic marketplace with ground truth: realistic enough that results on it mean something.

``generate_marketplace(SyntheticConfig(...))`` returns a :class:`SyntheticMarketplace` in the
raw form of the input contract (../shared/spec/data-contract.md) plus a ground-truth table no
model may read; ``write_export`` writes it as CSV or Parquet; ``to_contract_frames`` gives the
hashed column-contract frames of ``loaders.columns`` without a file round trip. Same config and
seed => identical output. Every knob lives in :class:`SyntheticConfig` (config.py).

Mechanisms, in the order they are simulated (monthly grid, ``start``..``end``):

1. **Population** (population.py). ``n_businesses`` parties: SMEs, ``share_consumer``
   consumers (buyers only), ``share_enterprise`` enterprises (large buyers and sellers).
   12 industries with shares ``INDUSTRY_SHARES``; regions weighted ``1/rank**region_zipf``
   (regional clustering). Activity size is log-normal (``size_sigma``; enterprises x
   ``enterprise_size_factor``) so sizes, order counts and degrees are heavy-tailed.
   ``share_established`` registered between ``first_registration`` and ``start``; the rest
   arrive uniformly until ``last_registration`` (a thin-file slice at every score date).
   ``credit_share`` of SMEs (more of the older ones) hold credit: only they get ``defaulted``.
2. **Trade network** (trade.py). Each buyer opens ``1 + Poisson`` relationships (mean
   ``mean_supplier_links`` scaled by sqrt(size); ``enterprise_links``, ``consumer_links``);
   the supplier's industry follows the supply chain ``SUPPLIERS`` (agriculture -> food
   processing -> wholesale -> retail/restaurants; raw materials -> manufacturing ->
   construction; textiles -> apparel -> retail; logistics and services sell to many); the
   supplier is in the buyer's region with ``same_region_prob`` and is drawn with probability
   ~ ``size**buyer_size_power`` (preferential attachment). A relationship opens once both
   exist (35% later, as businesses find each other), lasts ``Geometric(link_churn_per_month)``
   months and carries its own order rate (``orders_per_link_month`` x sizes x log-normal
   noise), typical order value (industry ``PRICE_LEVEL`` x buyer size) and category: repeat
   trade between established pairs.
3. **Latent health** (health.py). ``h = base + AR(1) walk + industry/region shocks + family
   effect``: ``health_base_sd``, ``health_walk_sd``, ``health_walk_phi``; ``n_industry_shocks``
   and ``n_region_shocks`` downturns of about ``shock_size`` that build over 3 months and
   fade; family members share ``family_shock_sd``. Never exported except in ground truth.
4. **Contagion and default** (outcomes.py). Each month a business's *distress* is
   ``sigmoid((distress_threshold - h) / distress_softness)``. A seller's receivables are
   weighted by the money each buyer owes it (expected monthly GMV at the buyer's usual pace,
   so a buyer that cuts its purchases still owes for what it took). Three channels: ``D1``,
   the share owed by distressed buyers that still trade; ``L``, the share owed by buyers that
   failed in the last six months (written off: the strongest, ``contagion_writeoff``); and
   ``E2``, the share-weighted mean of its buyers' own ``E1 = D1 + L`` (two hops: a shock to an
   industry or region spreads up the supply chain to its suppliers and theirs). Unpaid
   invoices bite with a lag: each channel enters as a moving average with monthly carry-over
   ``receivables_memory``, so a buyer in trouble today raises its suppliers' hazard over the
   following months, before their own behaviour shows it. Stress =
   ``h - contagion_1hop * D1 - contagion_writeoff * L - contagion_2hop * E2`` (each smoothed);
   the monthly failure hazard is ``sigmoid(default_intercept - default_slope * stress)`` for
   SMEs and enterprises. Because distress is a threshold of the counterparty's *latent*
   state, a weighted mean of the counterparties' noisy observable features only partly
   recovers it.
5. **Orders** (orders.py). Poisson per relationship-month with mean ``rate x seasonality
   (seasonality_amplitude, peak month per industry) x exp(activity_health_slope x health of
   each side)``, where behaviour reflects own health plus ``behaviour_contagion_share`` of the
   stress. Status logits rise with the seller's distress (refunds), the buyer's (disputes,
   cancellations) at ``status_health_slope``, plus per-business noise ``behaviour_noise_sd``;
   ``status_at`` is later than ``ts`` (refund 3-45 d, dispute 7-87 d and longer for
   distressed buyers, cancel <3 d). Orders stop when either side fails; orders run on past
   the last ``as_of`` to ``end``. A buyer's orders in the ``leak_dispute_days`` before it fails
   turn disputed after the failure with ``leak_dispute_prob`` (leakage shows if statuses are
   not taken as of the score date). ``foreign_share`` of orders are in ``fx_rates`` currencies.
6. **Fraud** (fraud.py, population.py, identifiers.py). ``ring_share`` of SMEs form rings of
   ``ring_size_min..ring_size_max`` fresh accounts opened within 45 days; they trade around a
   cycle plus chords (``ring_orders_per_month``, growing) at round, inflated amounts
   (``ring_round_amounts``), stock up on credit from real suppliers (x5 orders, x3 amounts)
   in the two months before they all fail together 7-18 months after opening (bust-out:
   defaulted and fraud). They share one device, most phones, bank accounts in pairs and two
   addresses. ``lone_fraud_share`` of SMEs are lone fraudsters who stop delivering (disputes)
   for six months before they are caught (fraud, not default).
7. **Innocent sharing** (identifiers.py; with ``camouflage``, camouflage.py adds accountants'
   phones, co-working addresses, lent devices and payment aggregators' accounts shared by
   unrelated SMEs, makes rings share only some identifiers and disguises ring orders, on its
   own random stream: off, every table is as before). ``family_share`` of SMEs sit in
   families of 2-4
   sharing an owner (and often an address); ``n_warehouses`` warehouse addresses are shared by
   ``warehouse_tenants`` unrelated tenants each (hubs, above the default hub threshold of 20).
   Identifiers come in messy formats (phone styles, case, spacing); ``identifier_missing_prob``
   of values are missing; consumers have only phone and device.
8. **Labels** (outcomes.py). For each of ``as_of_dates`` one row per SME registered before
   and still trading at that date: ``defaulted`` (credit SMEs: failed within ``horizon_days``)
   and ``fraud`` (bust-out or caught within the horizon). With ``monthly_cohorts`` the same
   rows also at every month start from ``cohort_start`` whose horizon has ended by ``end``
   (stacked training cohorts; the ``as_of_dates`` rows are unchanged).
9. **The lender's book and versions** (events.py, own random streams: nothing above changes).
   ``credit_events``: ``credit_opened`` at registration for credit SMEs, ``defaulted`` at a
   default or bust-out, ``fraud_confirmed`` at a bust-out or catch, ``credit_closed`` for
   caught fraudsters and ``credit_close_share`` of healthy lines after the last labelled
   date; labels derived from them equal ``outcomes`` wherever both exist. With
   ``version_share`` > 0, that share of SMEs is re-sent once with a later ``updated_at`` and
   one change (region, industry, headcount, phone or device) in ``business_versions``.

Ground truth (``ground_truth``, one row per business and as_of): ``health``, ``stress``,
``exposure_1hop`` (``D1 + L``, unsmoothed), ``exposure_2hop`` for the last full month
before as_of, ``has_credit``,
``ring_id``/``is_ring_member``, ``family_group``, ``shared_warehouse``, ``lookalike_group``
(camouflage's innocent look-alike groups), ``is_lone_fraudster``,
``failed_at``, ``fail_reason``. The oracle in benchmarks/synthetic_auc.py uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from loaders.synthetic.camouflage import CAMOUFLAGE_STREAM, disguise_ring_orders
from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.events import make_business_versions, make_credit_events
from loaders.synthetic.export import (
    SyntheticMarketplace,
    hash_identifier,
    normalise_identifier,
    to_contract_frames,
    write_export,
)
from loaders.synthetic.fraud import make_ring_orders
from loaders.synthetic.health import make_health
from loaders.synthetic.identifiers import make_identifiers
from loaders.synthetic.orders import Orders, make_orders, plant_failure_disputes
from loaders.synthetic.outcomes import (
    FAIL_BUST_OUT,
    FAIL_CAUGHT,
    FAIL_DEFAULT,
    NO_FAILURE,
    Failures,
    make_outcomes,
    simulate_failures,
)
from loaders.synthetic.population import (
    INDUSTRIES,
    KIND_CONSUMER,
    KIND_ENTERPRISE,
    KIND_NAMES,
    REGION_CODES,
    Population,
    make_population,
)
from loaders.synthetic.trade import CATEGORY_NAMES, make_links

logger = logging.getLogger(__name__)

__all__ = [
    "STAGES",
    "SyntheticConfig",
    "SyntheticMarketplace",
    "generate_marketplace",
    "hash_identifier",
    "normalise_identifier",
    "to_contract_frames",
    "write_export",
]

STAGES = ("population", "health", "trade network", "contagion", "orders", "export frames")
_STATUS_NAMES = np.array(["completed", "refunded", "disputed", "cancelled"], dtype=object)
_FAIL_NAMES = {0: "", FAIL_DEFAULT: "default", FAIL_BUST_OUT: "bust_out", FAIL_CAUGHT: "caught"}


def _utc(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True))


def _business_frame(
    config: SyntheticConfig, pop: Population, rng: np.random.Generator
) -> pd.DataFrame:
    consumer = pop.kind == KIND_CONSUMER
    employees = np.round(pop.size * 6 * rng.lognormal(0, 0.4, pop.n)).astype(np.int64) + 1
    employees[pop.kind == KIND_ENTERPRISE] *= 10
    declared = np.round(pop.size * 180_000 * rng.lognormal(0.1, 0.5, pop.n), -2)
    employees_col = pd.array(employees, dtype="Int64")
    employees_col[consumer | (rng.random(pop.n) < 0.12)] = pd.NA
    declared[consumer | (rng.random(pop.n) < 0.18)] = np.nan
    industry = np.where(
        consumer, "consumer", np.asarray(INDUSTRIES, dtype=object)[np.maximum(pop.industry, 0)]
    )
    frame = pd.DataFrame(
        {
            "business_id": pop.business_id,
            "kind": np.asarray(KIND_NAMES, dtype=object)[pop.kind],
            "registered_at": pd.DatetimeIndex(pop.registered_at).tz_localize("UTC"),
            "region": np.asarray(REGION_CODES, dtype=object)[pop.region],
            "industry": industry,
            "employees": employees_col,
            "declared_revenue": declared,
        }
    )
    ids = make_identifiers(config, pop, rng)
    return frame.merge(ids, on="business_id", how="left")


def _transactions_frame(
    config: SyntheticConfig, pop: Population, orders: Orders, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.lexsort((orders.seller, orders.ts))
    n = len(order)
    fx = dict(config.fx_rates)
    currencies = np.array([config.base_currency, *fx], dtype=object)
    rates = np.array([1.0, *fx.values()])
    amount_base, category_index = orders.amount_base[order], orders.category[order]
    may_be_foreign = ~orders.is_ring[order]
    if config.camouflage:  # ring orders in the currencies and categories everyone uses
        amount_base, ring_category = disguise_ring_orders(
            amount_base, orders.is_ring[order], len(CATEGORY_NAMES),
            np.random.default_rng([config.seed, CAMOUFLAGE_STREAM, 1]),
        )  # fmt: skip
        may_be_foreign = np.ones(n, dtype=bool)
        category_index = np.where(ring_category >= 0, ring_category, category_index)
    foreign = (rng.random(n) < config.foreign_share) & may_be_foreign
    pick = np.where(foreign, rng.integers(1, len(currencies), n), 0)
    amount = np.round(amount_base / rates[pick], 2)
    category = np.asarray([*CATEGORY_NAMES, None], dtype=object)[category_index]
    width = max(8, len(str(n)))
    frame = pd.DataFrame(
        {
            "txn_id": [f"T{i:0{width}d}" for i in range(1, n + 1)],
            "buyer_id": pop.business_id[orders.buyer[order]],
            "seller_id": pop.business_id[orders.seller[order]],
            "ts": _utc(orders.ts[order]),
            "amount": amount,
            "currency": currencies[pick],
            "status": _STATUS_NAMES[orders.status[order]],
            "status_at": _utc(orders.status_at[order]),
            "category": category,
        }
    )
    fx_frame = pd.DataFrame({"currency": list(fx), "rate_to_base": list(fx.values())})
    return frame, fx_frame


def _ground_truth(config: SyntheticConfig, pop: Population, health: np.ndarray,
                  failures: Failures) -> pd.DataFrame:  # fmt: skip
    failed = failures.fail_time != NO_FAILURE
    failed_at = pd.Series(pd.NaT, index=range(pop.n), dtype="datetime64[s, UTC]")
    failed_at[failed] = _utc(failures.fail_time[failed])
    static = pd.DataFrame(
        {
            "business_id": pop.business_id,
            "kind": np.asarray(KIND_NAMES, dtype=object)[pop.kind],
            "has_credit": pop.has_credit.astype(np.int8),
            "ring_id": pd.array(np.where(pop.ring_id >= 0, pop.ring_id, -1)).astype("Int64"),
            "is_ring_member": (pop.ring_id >= 0).astype(np.int8),
            "family_group": pd.array(pop.family_group).astype("Int64"),
            "shared_warehouse": pd.array(pop.warehouse).astype("Int64"),
            "lookalike_group": pd.array(
                pop.lookalike_group if pop.lookalike_group is not None else np.full(pop.n, -1)
            ).astype("Int64"),
            "is_lone_fraudster": (pop.lone_fraud_month >= 0).astype(np.int8),
            "failed_at": failed_at.to_numpy(),
            "fail_reason": [_FAIL_NAMES[int(r)] for r in failures.fail_reason],
        }
    )
    for col in ("ring_id", "family_group", "shared_warehouse", "lookalike_group"):
        static.loc[static[col] < 0, col] = pd.NA
    frames = []
    for as_of in config.as_of_timestamps:
        m = (as_of.year - pop.month_starts[0].year) * 12 + as_of.month - pop.month_starts[0].month
        last = int(np.clip(m - 1, 0, pop.n_months - 1))
        frame = static.copy()
        frame.insert(1, "as_of", as_of)
        frame["health"] = health[:, last]
        frame["stress"] = failures.stress[:, last]
        frame["exposure_1hop"] = failures.exposure_1hop[:, last]
        frame["exposure_2hop"] = failures.exposure_2hop[:, last]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def generate_marketplace(
    config: SyntheticConfig, progress: Callable[[str], None] | None = None
) -> SyntheticMarketplace:
    """Simulate the marketplace described in this package's docstring.

    ``progress`` (optional) is called with each stage name of ``STAGES`` as it starts.
    """
    step = progress or (lambda _stage: None)
    rng = np.random.default_rng(config.seed)
    step(STAGES[0])
    pop = make_population(config, rng)
    step(STAGES[1])
    health, shocks = make_health(config, pop, rng)
    step(STAGES[2])
    links = make_links(config, pop, rng)
    step(STAGES[3])
    failures = simulate_failures(config, pop, health, links, rng)
    step(STAGES[4])
    status_noise = rng.normal(0.0, config.behaviour_noise_sd, size=(pop.n, 3))
    legit = make_orders(config, pop, links, health, failures, status_noise, rng)
    ring = make_ring_orders(config, pop, failures, rng)
    orders = Orders.concat([legit, ring])
    plant_failure_disputes(config, orders, failures, rng)
    step(STAGES[5])
    businesses = _business_frame(config, pop, rng)
    transactions, fx_rates = _transactions_frame(config, pop, orders, rng)
    outcomes = make_outcomes(config, pop, failures)
    outcomes["as_of"] = pd.to_datetime(outcomes["as_of"], utc=True)
    credit_events = make_credit_events(config, pop, failures) if config.credit_events else None
    versions = make_business_versions(config, pop, failures, businesses)
    logger.info("generated %d businesses and %d orders (seed %d)", len(businesses),
                len(transactions), config.seed)  # fmt: skip
    return SyntheticMarketplace(
        businesses=businesses,
        transactions=transactions,
        outcomes=outcomes,
        ground_truth=_ground_truth(config, pop, health, failures),
        fx_rates=fx_rates,
        as_of_dates=config.as_of_timestamps,
        base_currency=config.base_currency,
        shocks=[vars(s) | {"target": s.target} for s in shocks],
        credit_events=credit_events,
        business_versions=versions if len(versions) else None,
    )
