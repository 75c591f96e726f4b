"""Every knob of the synthetic marketplace, with its default, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import pandas as pd

#: Default mechanisms the generator knows (``SyntheticConfig.default_mechanism``).
DEFAULT_MECHANISMS: Final = ("receivables", "supply")
#: Contagion strength of the ``supply`` mechanism relative to ``receivables``: a buyer draws
#: on few suppliers, so its exposure runs about three times a seller's; at half strength the
#: yearly default rate of credit SMEs is about the receivables marketplace's (6-10% on seed
#: 42) instead of a cascade (40-60% at full strength).
SUPPLY_CONTAGION_SCALE: Final = 0.5


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of :func:`loaders.synthetic.generate_marketplace`; the defaults are the frozen
    benchmark setting (see the package docstring for what each mechanism does)."""

    # --- size, time line, labels
    n_businesses: int = 10_000
    seed: int = 42
    start: str = "2022-01-01"  # first order month
    end: str = "2025-12-31"  # last order day (orders continue after the last as_of)
    as_of_dates: tuple[str, ...] = ("2024-01-01", "2025-01-01")
    horizon_days: int = 365
    base_currency: str = "USD"

    # --- population
    share_consumer: float = 0.15
    share_enterprise: float = 0.02
    share_established: float = 0.35  # registered before `start`; the rest arrive uniformly
    first_registration: str = "2017-01-01"
    last_registration: str = "2025-10-31"
    size_sigma: float = 1.1  # log-normal sigma of SME activity (heavy tail)
    enterprise_size_factor: float = 15.0
    n_regions: int = 12
    region_zipf: float = 0.9  # region weights ~ 1 / rank**region_zipf
    credit_share: float = 0.7  # SMEs with a credit line (only they get a `defaulted` label)

    # --- trade network
    mean_supplier_links: float = 5.0  # relationships a buyer SME opens (heavy-tailed by size)
    consumer_links: float = 2.0
    enterprise_links: float = 25.0
    same_region_prob: float = 0.7
    buyer_size_power: float = 0.75  # preferential attachment of sellers by size
    orders_per_link_month: float = 0.16  # base order rate of one relationship
    link_churn_per_month: float = 0.02
    seasonality_amplitude: float = 0.25

    # --- latent health: h = base + AR(1) walk + industry shock + region shock + family shock
    health_base_sd: float = 1.0
    health_walk_sd: float = 0.15
    health_walk_phi: float = 0.93
    n_industry_shocks: int = 3
    n_region_shocks: int = 2
    shock_size: float = 1.4
    family_shock_sd: float = 0.4

    # --- how health shows in behaviour (noisy)
    activity_health_slope: float = 0.7  # log order rate per unit of health
    status_health_slope: float = 1.0  # logit of refunds/disputes/cancels per unit of distress
    behaviour_noise_sd: float = 0.35  # per-business noise on status logits, hides health
    distress_dispute_boost: float = 2.5  # dispute logit step of a buyer in distress (cancel: half)
    distress_activity_cut: float = 1.2  # log order-rate cut of a buyer in distress
    behaviour_contagion_share: float = 0.1  # how much of the contagion stress shows in behaviour

    # --- default and contagion
    # receivables: distress travels up the supply chain, from buyers to the sellers they owe;
    # supply: down it, from suppliers to the buyers whose inputs they provide (a separate
    # generator setting for robustness checks; the frozen default is receivables).
    default_mechanism: str = "receivables"
    distress_threshold: float = -0.5  # a counterparty with stress below this is "in distress"
    distress_softness: float = 0.3
    contagion_1hop: float = 4.0  # stress loss per unit of share owed by distressed buyers
    contagion_2hop: float = 4.0  # extra loss from buyers' buyers (carried through the buyers)
    contagion_writeoff: float = 20.0  # stress loss per unit of share owed by failed buyers
    receivables_memory: float = 0.85  # monthly carry-over of receivables stress (lagged contagion)
    default_intercept: float = -9.2  # monthly default logit at stress 0
    default_slope: float = 2.0
    leak_dispute_days: int = 75  # orders this close before a default get disputed after it
    leak_dispute_prob: float = 0.6

    # --- fraud
    ring_share: float = 0.012  # share of SMEs in rings
    ring_size_min: int = 3
    ring_size_max: int = 8
    ring_orders_per_month: float = 5.0
    ring_round_amounts: tuple[int, ...] = (5_000, 10_000, 15_000, 20_000, 25_000, 50_000)
    lone_fraud_share: float = 0.002

    # --- innocent sharing
    family_share: float = 0.05  # SMEs that belong to a family group of 2-4
    n_warehouses: int = 4
    warehouse_tenants: tuple[int, int] = (25, 60)

    # --- camouflage (loaders.synthetic.camouflage): off by default, on its own random stream
    camouflage: bool = False  # innocent look-alike sharing, rings that hide, ring orders disguised
    accountant_clients: tuple[int, int] = (4, 12)  # SMEs on one accountant's phone
    ring_device_share: float = 0.4  # rings that still share one device when camouflaged

    # --- money
    foreign_share: float = 0.02
    fx_rates: tuple[tuple[str, float], ...] = (("EUR", 1.08), ("CAD", 0.74), ("MXN", 0.055))
    identifier_missing_prob: float = 0.08

    # --- lender's book and history (contract v2). Drawn from their own random streams, so
    # switching them on or off leaves every other table of a seed unchanged.
    monthly_cohorts: bool = True  # outcomes also at month starts (see outcome_timestamps)
    cohort_start: str = "2023-01-01"  # first monthly cohort (a year of orders behind it)
    credit_events: bool = True  # the `credit_events` table (labels for any score date)
    credit_close_share: float = 0.05  # never-failing credit SMEs that close after the last label
    version_share: float = 0.0  # SMEs re-sent once with a later `updated_at` (a changed region,
    # industry, headcount, phone or device); off by default until every reader takes versions

    @property
    def as_of_timestamps(self) -> list[pd.Timestamp]:
        """The score dates as UTC midnight timestamps."""
        return [pd.Timestamp(d, tz="UTC") for d in self.as_of_dates]

    @property
    def outcome_timestamps(self) -> list[pd.Timestamp]:
        """Every score date with an ``outcomes`` row: ``as_of_dates`` plus, with
        ``monthly_cohorts``, each month start from ``cohort_start`` whose labels are mature by
        ``end`` (``as_of + horizon_days`` no later than the day after ``end``)."""
        dates = set(self.as_of_timestamps)
        if self.monthly_cohorts:
            data_end = pd.Timestamp(self.end, tz="UTC").normalize() + pd.Timedelta(days=1)
            last = data_end - pd.Timedelta(days=self.horizon_days)
            first = pd.Timestamp(self.cohort_start, tz="UTC")
            if first <= last:
                dates.update(pd.date_range(first.normalize(), last, freq="MS"))
        return sorted(dates)

    def with_mechanism(self, mechanism: str) -> SyntheticConfig:
        """This configuration under another default mechanism, its contagion strength set so
        the default rate stays comparable (:data:`SUPPLY_CONTAGION_SCALE`); an unknown one is
        refused by the configuration's own check."""
        if mechanism == self.default_mechanism:
            return self
        k = SUPPLY_CONTAGION_SCALE if mechanism == "supply" else 1 / SUPPLY_CONTAGION_SCALE
        return replace(
            self,
            default_mechanism=mechanism,
            contagion_1hop=self.contagion_1hop * k,
            contagion_2hop=self.contagion_2hop * k,
            contagion_writeoff=self.contagion_writeoff * k,
        )

    def __post_init__(self) -> None:
        if self.default_mechanism not in DEFAULT_MECHANISMS:
            raise ValueError(
                f"unknown default_mechanism {self.default_mechanism!r}: "
                f"use one of {list(DEFAULT_MECHANISMS)}"
            )
        if self.n_businesses < 50:
            raise ValueError("n_businesses must be at least 50 so every mechanism has members")
        if not 0 < self.share_consumer + self.share_enterprise < 1:
            raise ValueError("share_consumer + share_enterprise must be between 0 and 1")
        if not 0 <= self.version_share <= 1 or not 0 <= self.credit_close_share <= 1:
            raise ValueError("version_share and credit_close_share must be between 0 and 1")
