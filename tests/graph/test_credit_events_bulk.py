"""The bulk import carries credit events, and the online load of the same data then finds
them unchanged; an export with business versions is refused by the bulk path."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pandas as pd
import pytest

from graph.bulk import bulk_import, write_import_csvs
from graph.history import count_history
from graph.load import load_frames
from graph.server import local
from graph.server.errors import Neo4jSetupError
from graph.snapshot import read_credit_events
from loaders.columns import CREDIT_EVENT_COLUMNS
from tests.graph.frames import make_frames
from tests.ports import free_port

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_id": ["B0001", "B0001", "B0002", "B0003"],
            "event": ["credit_opened", "defaulted", "credit_opened", "fraud_confirmed"],
            "at": pd.to_datetime(
                ["2024-02-01", "2024-11-03T10:20:30.123456", "2024-03-01", "2025-02-01"],
                utc=True,
                format="ISO8601",
            ),
        }
    )[CREDIT_EVENT_COLUMNS]


def test_versions_are_refused_by_the_bulk_path(tmp_path: Path) -> None:
    f = make_frames(n_businesses=5, n_orders=5)
    twice = pd.concat([f.businesses, f.businesses.iloc[:1]], ignore_index=True)
    with pytest.raises(Neo4jSetupError, match="versions"):
        write_import_csvs(tmp_path, twice, f.identifiers, [f.orders], None, key_fingerprint="fp")


def test_bulk_import_carries_credit_events(tmp_path: Path) -> None:
    f = make_frames(n_businesses=20, n_orders=50, seed=3)
    businesses = f.businesses.assign(updated_at=f.businesses["registered_at"])
    events = _events()
    write_import_csvs(
        tmp_path / "csv", businesses, f.identifiers, [f.orders], f.outcomes,
        key_fingerprint="fp", credit_events=events,
    )  # fmt: skip
    config = local.LocalServerConfig(
        data_dir=tmp_path / "neo4j", bolt_port=free_port(), heap="512m", pagecache="128m",
        apoc=False,
    )  # fmt: skip
    bulk_import(config, tmp_path / "csv")
    server = local.start(config)
    try:
        with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            stored = read_credit_events(driver)
            expected = events.sort_values(["at", "business_id", "event"], ignore_index=True)
            pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
            before = count_history(driver)
            result = load_frames(
                driver, businesses, f.identifiers, [f.orders], f.outcomes,
                key_fingerprint="fp", credit_events=events,
            )  # fmt: skip
            for table, counts in result.tables.items():
                assert counts.unchanged == counts.read, (table, counts)
            assert count_history(driver) == before
            assert before["credit_events"] == len(events)
    finally:
        local.stop(config)
