"""The synthetic marketplace is frozen: for a given seed it produces the same tables, so
figures measured on it stay comparable. A change to what it generates must be deliberate:
update the digest below and say so in the CHANGELOG (and re-measure the benchmarks)."""

from __future__ import annotations

import hashlib

import pandas as pd

from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames

FROZEN_DIGEST = "5c14852eab8e56c1c57c28dfe67e68c1ff73f6ca8b8867913f516376a190838c"


def marketplace_digest(seeds: tuple[int, ...] = (42, 7), n_businesses: int = 2000) -> str:
    """SHA-256 over every contract table and the credit events of small marketplaces."""
    digest = hashlib.sha256()
    for seed in seeds:
        market = generate_marketplace(SyntheticConfig(n_businesses=n_businesses, seed=seed))
        for frame in (*to_contract_frames(market, "k"), market.credit_events):
            digest.update(pd.util.hash_pandas_object(frame, index=True).values.tobytes())
    return digest.hexdigest()


def test_the_generator_produces_the_frozen_marketplace() -> None:
    assert marketplace_digest() == FROZEN_DIGEST, (
        "the synthetic generator's output changed: if that is intended, update FROZEN_DIGEST, "
        "note the change in CHANGELOG.md and re-run the benchmarks measured on it"
    )
