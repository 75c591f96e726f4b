"""The bulk import from files Spark writes out of the lake builds the graph the online load
of the same export builds: loading that export online afterwards changes nothing."""

from __future__ import annotations

from pathlib import Path

import neo4j
import pandas as pd
import pytest

from graph.bulk import import_groups
from graph.bulk_spark import bulk_load_lake, write_import_csvs_spark
from graph.load import graph_counts, load_frames, read_pairs
from graph.schema import read_schema_info
from graph.server import local
from graph.server.errors import Neo4jSetupError
from loaders.lake import LakeRows, write_lake_frames
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from tests.graph.frames import normalise_pairs
from tests.ports import free_port

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_spark_written_bulk_import_equals_the_online_load(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    market = generate_marketplace(SyntheticConfig(n_businesses=300, seed=5))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "bulk-key")
    events = market.credit_events
    lake = tmp_path / "lake"
    rows = LakeRows(businesses, identifiers, [orders], outcomes, events)
    write_lake_frames(lake, rows, key_fingerprint="fp", base_currency="USD", source="test")

    config = local.LocalServerConfig(
        data_dir=tmp_path / "neo4j", bolt_port=free_port(), heap="512m", pagecache="128m",
        apoc=False,
    )  # fmt: skip
    imported = bulk_load_lake(config, lake, spark, buckets=3, hub_threshold=5)
    assert imported.orders == len(orders)
    groups = import_groups(config.data_dir / "import" / "tradegraph-bulk")
    assert len(groups["sold_to"]) > 2  # a header and several parts written in parallel
    server = local.start(config)  # already running: bulk_load_lake started it
    try:
        with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            assert read_schema_info(driver).key_fingerprint == "fp"
            before = graph_counts(driver)
            pairs = normalise_pairs(read_pairs(driver))
            result = load_frames(
                driver, businesses, identifiers, [orders], outcomes, key_fingerprint="fp",
                batch_size=2000, hub_threshold=5, credit_events=events,
            )  # fmt: skip
            for table, table_counts in result.tables.items():
                assert table_counts.unchanged == table_counts.read, (table, table_counts)
            assert graph_counts(driver) == before
            assert before["orders"] == len(orders)
            pd.testing.assert_frame_equal(normalise_pairs(read_pairs(driver)), pairs)
    finally:
        local.stop(config)


def test_spark_bulk_refuses_a_lake_with_business_versions(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    market = generate_marketplace(SyntheticConfig(n_businesses=60, seed=6))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "bulk-key")
    later = businesses.head(2).assign(updated_at=pd.Timestamp("2024-03-01", tz="UTC"))
    lake = tmp_path / "lake"
    for part in (businesses, later):
        rows = LakeRows(part, identifiers.head(0), [orders.head(0)], outcomes.head(0), None)
        write_lake_frames(lake, rows, key_fingerprint="fp", base_currency="USD", source="t")
    with pytest.raises(Neo4jSetupError, match="several versions"):
        write_import_csvs_spark(spark, lake, tmp_path / "csv", key_fingerprint="fp", buckets=2)
    assert not (tmp_path / "csv").exists()
