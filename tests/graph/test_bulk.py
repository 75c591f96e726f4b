"""Offline bulk import, then the online load of the same data changes nothing."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pandas as pd
import pytest

from graph.bulk import bulk_import, write_import_csvs
from graph.load import graph_counts, load_frames, read_pairs
from graph.schema import read_schema_info
from graph.server import local
from tests.graph.frames import expected_pairs, make_frames, normalise_pairs
from tests.ports import free_port

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_bulk_import_then_online_load_changes_nothing(tmp_path: Path) -> None:
    f = make_frames(n_businesses=50, n_orders=800, seed=11)
    files = write_import_csvs(
        tmp_path / "csv",
        f.businesses,
        f.identifiers,
        [f.orders.iloc[:300], f.orders.iloc[300:]],
        f.outcomes,
        key_fingerprint="fp",
        hub_threshold=5,
    )
    assert files["nodes"] and files["relationships"]
    config = local.LocalServerConfig(
        data_dir=tmp_path / "neo4j",
        bolt_port=free_port(),
        heap="512m",
        pagecache="128m",
        apoc=False,
    )
    imported = bulk_import(config, tmp_path / "csv")
    assert imported.orders == len(f.orders)
    server = local.start(config)
    try:
        with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            assert read_schema_info(driver).key_fingerprint == "fp"
            before = graph_counts(driver)
            assert before["orders"] == len(f.orders)
            pairs = normalise_pairs(read_pairs(driver))
            pd.testing.assert_frame_equal(
                pairs, expected_pairs(f.orders), check_exact=False, rtol=1e-12
            )
            result = load_frames(
                driver,
                f.businesses,
                f.identifiers,
                [f.orders],
                f.outcomes,
                key_fingerprint="fp",
                batch_size=200,
                hub_threshold=5,
            )
            for table, counts in result.tables.items():
                assert counts.unchanged == counts.read, (table, counts)
            after = graph_counts(driver)
            assert after == before
            pd.testing.assert_frame_equal(normalise_pairs(read_pairs(driver)), pairs)
    finally:
        local.stop(config)
