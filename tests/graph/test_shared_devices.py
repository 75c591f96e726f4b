"""The README's shared-device query, checked against the generator's raw device ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from graph.load import load_export
from graph.query_library import get_query, run_query
from loaders.identifiers import normalise_identifier
from loaders.synthetic import SyntheticConfig, generate_marketplace, write_export
from tradegraph.settings import DEMO_HASH_KEY

HUB_THRESHOLD = 20


def _expected(businesses: pd.DataFrame) -> dict[str, set[str]]:
    """From raw ids (which never reach Neo4j): who shares a non-hub device with whom."""
    devices = businesses[["business_id", "device_id"]].dropna()
    devices = devices.assign(
        device=devices["device_id"].map(lambda v: normalise_identifier(v, "device_id"))
    )
    devices = devices[devices["device"].astype(bool)]
    groups = devices.groupby("device")["business_id"].agg(lambda ids: set(ids))
    expected: dict[str, set[str]] = {}
    for members in groups:
        if 1 < len(members) <= HUB_THRESHOLD:
            for member in members:
                expected.setdefault(member, set()).update(members - {member})
    return expected


def test_shared_devices_matches_ground_truth(neo4j_driver, tmp_path: Path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=400, seed=11))
    write_export(market, tmp_path / "export")
    load_export(
        neo4j_driver,
        tmp_path / "export",
        DEMO_HASH_KEY.encode(),
        rejects_dir=tmp_path / "rejects",
        hub_threshold=HUB_THRESHOLD,
    )
    result = run_query(neo4j_driver, get_query("shared_devices"))
    got = {row["business"]: set(row["shares_device_with"]) for row in result.rows}
    expected = _expected(market.businesses)
    assert expected, "the generator should plant shared devices (rings, families)"
    assert got == expected
