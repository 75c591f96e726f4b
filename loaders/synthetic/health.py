"""Latent financial health: one value per business per month, never exported except as truth.

``h[i, m] = base_i + walk_i(m) + industry_shock(industry_i, m) + region_shock(region_i, m)
+ family_shock(family_i)``; higher is healthier, 0 is average, about -1 is distress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.population import (
    INDUSTRIES,
    KIND_CONSUMER,
    KIND_ENTERPRISE,
    Population,
)


@dataclass
class Shock:
    """A dated downturn of one industry or region (ground truth, for the README/report)."""

    kind: str  # "industry" | "region"
    target: int
    month: int
    size: float


def _shock_path(n_months: int, month: int, size: float) -> np.ndarray:
    """A downturn that builds over 3 months and fades with a ~9-month time constant."""
    m = np.arange(n_months, dtype=float)
    ramp = np.clip((m - month + 1) / 3.0, 0.0, 1.0)
    fade = np.exp(-np.clip(m - month - 2, 0.0, None) / 9.0)
    return -size * ramp * fade


def make_health(
    config: SyntheticConfig, pop: Population, rng: np.random.Generator
) -> tuple[np.ndarray, list[Shock]]:
    """Return ``h`` (n x n_months, float64) and the list of planted shocks."""
    n, n_months = pop.n, pop.n_months
    base = rng.normal(0.0, config.health_base_sd, size=n)
    base += 0.15 * np.log(pop.size)  # larger businesses are a little sturdier
    base[pop.kind == KIND_ENTERPRISE] += 1.2
    base[pop.ring_id >= 0] = 1.0  # rings look healthy until they bust out

    phi, sd = config.health_walk_phi, config.health_walk_sd
    walk = np.empty((n, n_months))
    walk[:, 0] = rng.normal(0.0, sd / np.sqrt(1 - phi**2), size=n)
    for m in range(1, n_months):
        walk[:, m] = phi * walk[:, m - 1] + rng.normal(0.0, sd, size=n)
    walk[pop.ring_id >= 0] *= 0.3
    h = base[:, None] + walk

    shocks: list[Shock] = []
    has_industry = pop.industry >= 0
    for _ in range(config.n_industry_shocks):
        target = int(rng.integers(0, len(INDUSTRIES)))
        month = int(rng.integers(3, n_months - 3))
        size = config.shock_size * rng.uniform(0.7, 1.3)
        shocks.append(Shock("industry", target, month, size))
        h[has_industry & (pop.industry == target)] += _shock_path(n_months, month, size)
    for _ in range(config.n_region_shocks):
        target = int(rng.integers(0, int(pop.region.max()) + 1))
        month = int(rng.integers(3, n_months - 3))
        size = 0.7 * config.shock_size * rng.uniform(0.7, 1.3)
        shocks.append(Shock("region", target, month, size))
        h[pop.region == target] += _shock_path(n_months, month, size)

    in_family = pop.family_group >= 0
    if in_family.any():
        family_effect = rng.normal(0.0, config.family_shock_sd, size=pop.family_group.max() + 1)
        h[in_family] += family_effect[pop.family_group[in_family]][:, None]
    h[pop.kind == KIND_CONSUMER] = 0.0
    return h, shocks
