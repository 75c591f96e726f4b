"""Raw identifiers (phone, device, address, bank account, owner), shared the way people share them.

Every business gets its own values, written in the messy formats real exports hold (several
phone formats, mixed-case addresses). Then sharing is planted: a ring shares one device, some
phones, a few bank accounts and addresses; a family shares its owner and often an address;
a warehouse address is used by dozens of unrelated tenants (a hub, more than the hub threshold).
With ``camouflage`` (:mod:`loaders.synthetic.camouflage`), rings share less and ordinary
businesses share more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loaders.synthetic.camouflage import camouflage_rng, hide_rings, plant_innocent_sharing
from loaders.synthetic.config import SyntheticConfig
from loaders.synthetic.population import KIND_CONSUMER, REGION_CODES, Population

_STREETS = ("Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill",
            "Park", "Market", "Mill", "River", "Church", "Union", "Industrial")  # fmt: skip
_SUFFIXES = ("St", "Ave", "Rd", "Blvd", "Way", "Dr")
_CITIES = ("Springfield", "Riverside", "Franklin", "Greenville", "Fairview", "Madison",
           "Clinton", "Georgetown", "Salem", "Arlington", "Ashland", "Dover")  # fmt: skip
_PHONE_FORMATS = ("+1-{a}-{b}-{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1{a}{b}{c}")


def _address(rng: np.random.Generator, region: str) -> str:
    text = (
        f"{int(rng.integers(1, 9999))} {_STREETS[int(rng.integers(len(_STREETS)))]} "
        f"{_SUFFIXES[int(rng.integers(len(_SUFFIXES)))]}, "
        f"{_CITIES[int(rng.integers(len(_CITIES)))]}, {region}"
    )
    style = rng.random()
    return text.upper() if style < 0.15 else ("  " + text if style < 0.2 else text)


def _distinct(n: int, space: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct numbers below ``space`` (an affine bijection mod ``space``: O(n) memory)."""
    if n > space:
        raise ValueError(f"cannot draw {n} distinct identifiers from a space of {space}")
    step = 7_919_993  # prime, coprime with the powers of ten used as spaces
    return (np.arange(n, dtype=np.int64) * step + int(rng.integers(0, space))) % space


def make_identifiers(
    config: SyntheticConfig, pop: Population, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per business, columns business_id + the five raw identifier columns (or None)."""
    n = pop.n
    numbers = _distinct(n, 10**7, rng)
    area = 200 + rng.integers(0, 800, size=n)
    fmt = rng.integers(0, len(_PHONE_FORMATS), size=n)
    phone = np.array(
        [
            _PHONE_FORMATS[f].format(a=a, b=f"{x // 10_000:03d}", c=f"{x % 10_000:04d}")
            for f, a, x in zip(fmt, area, numbers, strict=True)
        ],
        dtype=object,
    )
    raw = rng.integers(0, 2**63 - 1, size=(n, 2), dtype=np.int64)
    hexes = [f"{x:016x}{y:016x}" for x, y in raw]
    device = np.array(
        [f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:32]}" for d in hexes], dtype=object
    )
    address = np.array([_address(rng, REGION_CODES[r]) for r in pop.region], dtype=object)
    routing = rng.integers(10**8, 10**9, size=n)
    bank = np.array(
        [f"{r:09d}-{a:010d}" for r, a in zip(routing, _distinct(n, 10**10, rng), strict=True)],
        dtype=object,
    )
    owner = np.array([f"OWN-{x:08d}" for x in _distinct(n, 10**8, rng)], dtype=object)
    own = {"phone": phone.copy(), "device_id": device.copy(), "address": address.copy(),
           "bank_account": bank.copy()}  # fmt: skip

    for ring in np.unique(pop.ring_id[pop.ring_id >= 0]):
        members = np.flatnonzero(pop.ring_id == ring)
        device[members] = device[members[0]]
        some = members[rng.random(len(members)) < 0.6]
        if len(some) > 1:
            phone[some] = phone[some[0]]
        for a, b in members[: 2 * (len(members) // 2)].reshape(-1, 2):
            if rng.random() < 0.7:
                bank[b] = bank[a]
        address[members] = address[members[:2]][rng.integers(0, 2, len(members))]

    for group in np.unique(pop.family_group[pop.family_group >= 0]):
        members = np.flatnonzero(pop.family_group == group)
        owner[members] = owner[members[0]]
        home = members[rng.random(len(members)) < 0.5]
        if len(home) > 1:
            address[home] = address[home[0]]

    for w in np.unique(pop.warehouse[pop.warehouse >= 0]):
        tenants = np.flatnonzero(pop.warehouse == w)
        region = REGION_CODES[int(pop.region[tenants[0]])]
        site = f"{1000 + 17 * int(w)} Logistics Park Dr, Fairview, {region}"
        # The same building, typed the way each tenant typed it (case varies).
        address[tenants] = np.where(rng.random(len(tenants)) < 0.3, site.upper(), site)

    columns = {"phone": phone, "device_id": device, "address": address,
               "bank_account": bank, "owner_id": owner}  # fmt: skip
    if config.camouflage:
        other = camouflage_rng(config)
        hide_rings(config, pop, columns, own, other)
        plant_innocent_sharing(config, pop, columns, other)
    consumers = pop.kind == KIND_CONSUMER
    address[consumers] = bank[consumers] = owner[consumers] = None
    # Camouflaged rings leave identifiers out as often as anyone.
    in_ring = (pop.ring_id >= 0) & (not config.camouflage)
    for name, values in columns.items():
        missing = (rng.random(n) < config.identifier_missing_prob) & ~in_ring
        if name == "address":
            missing &= pop.warehouse < 0
        values[missing] = None
    return pd.DataFrame({"business_id": pop.business_id, **columns}, dtype=object)
