"""Camouflage: a marketplace where no attribute belongs to rings alone (``camouflage=True``).

By default only ring members share a device, phones and bank accounts, ring identifiers are
never missing and ring orders are never foreign and never carry a category, so the planted
rings are easy by construction. With ``SyntheticConfig(camouflage=True)``:

* **innocent sharing that looks like a ring**: accountants whose phone is on the records of
  ``accountant_clients`` unrelated SMEs, co-working addresses, devices the marketplace lends to
  several sellers, and payment aggregators whose bank account many SMEs use
  (:func:`plant_innocent_sharing`);
* **rings that hide**: members share only some identifiers (a device with
  ``ring_device_share``, each phone and bank pairing less often), rotate their own devices,
  use their own addresses half the time and leave identifiers out as often as anyone
  (:func:`hide_rings`);
* **ring orders like everyone's**: the usual share of foreign currency, a category, and
  amounts with cents rather than round figures (:func:`disguise_ring_orders`).

Everything here draws from its own random stream (``camouflage_rng``), so turning it off
leaves every table of a seed exactly as before (the frozen marketplace).
"""

from __future__ import annotations

import numpy as np

from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.population import KIND_SME, Population

#: Stream key mixed with the seed: the camouflage's draws never move the base generator's.
CAMOUFLAGE_STREAM = 0xCA30


def camouflage_rng(config: SyntheticConfig) -> np.random.Generator:
    return np.random.default_rng([config.seed, CAMOUFLAGE_STREAM])


def _groups(
    pool: np.ndarray, n_groups: int, size: tuple[int, int], rng: np.random.Generator
) -> list[np.ndarray]:
    """``n_groups`` disjoint groups drawn from ``pool`` with sizes in ``size`` (inclusive)."""
    order = rng.permutation(pool)
    out, cursor = [], 0
    for _ in range(n_groups):
        k = int(rng.integers(size[0], size[1] + 1))
        if cursor + k > len(order):
            break
        out.append(order[cursor : cursor + k])
        cursor += k
    return out


def plant_innocent_sharing(
    config: SyntheticConfig, pop: Population, ids: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, int]:
    """Share identifiers among unrelated ordinary SMEs; returns how many groups of each and
    records each member's group in ``pop.lookalike_group`` (numbered across the kinds)."""
    ordinary = np.flatnonzero((pop.kind == KIND_SME) & (pop.ring_id < 0))
    n = len(ordinary)
    plans = (
        ("phone", "accountants", max(1, n // 150), config.accountant_clients),
        ("address", "coworking", max(1, n // 300), (5, 15)),
        ("device_id", "lent_devices", max(1, n // 200), (3, 8)),
        ("bank_account", "aggregators", max(1, n // 1000), (10, 30)),
    )
    counts = {}
    lookalike = np.full(pop.n, -1, dtype=np.int64)
    for column, name, n_groups, size in plans:
        groups = _groups(ordinary, n_groups, size, rng)
        for members in groups:
            ids[column][members] = ids[column][members[0]]
            lookalike[members] = np.where(
                lookalike[members] < 0, lookalike.max() + 1, lookalike[members]
            )
        counts[name] = len(groups)
    pop.lookalike_group = lookalike
    return counts


def hide_rings(
    config: SyntheticConfig,
    pop: Population,
    ids: dict[str, np.ndarray],
    own: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> None:
    """Undo part of each ring's sharing: members go back to their ``own`` identifiers except a
    device shared with ``ring_device_share``, some phones, a few bank pairs and, half the
    time, the ring's addresses."""
    for ring in np.unique(pop.ring_id[pop.ring_id >= 0]):
        members = np.flatnonzero(pop.ring_id == ring)
        for column in ("device_id", "phone", "bank_account", "address"):
            ids[column][members] = own[column][members]
        if rng.random() < config.ring_device_share:
            ids["device_id"][members] = ids["device_id"][members[0]]
        some = members[rng.random(len(members)) < 0.3]
        if len(some) > 1:
            ids["phone"][some] = ids["phone"][some[0]]
        for a, b in members[: 2 * (len(members) // 2)].reshape(-1, 2):
            if rng.random() < 0.3:
                ids["bank_account"][b] = ids["bank_account"][a]
        if rng.random() < 0.5:
            ids["address"][members] = ids["address"][members[:2]][rng.integers(0, 2, len(members))]


def disguise_ring_orders(
    amount_base: np.ndarray, is_ring: np.ndarray, n_categories: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Ring orders with cents on their amounts and a category: the new amounts and a category
    per ring order (-1 elsewhere: the order keeps its own). Their currency is drawn like every
    other order's by the caller."""
    out = amount_base.copy()
    ring = np.flatnonzero(is_ring)
    out[ring] = np.round(out[ring] * rng.uniform(0.93, 1.07, len(ring)), 2)
    category = np.full(len(amount_base), -1, dtype=np.int64)
    category[ring] = rng.integers(0, n_categories, len(ring))
    return out, category
