"""The Parquet lake (``loaders.lake``): what validation keeps, written once and cut as of a
score date exactly as the Neo4j snapshot is."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from graph.load import load_frames
from graph.snapshot import read_snapshot
from loaders.lake import (
    LakeError,
    LakeRows,
    lake_manifest,
    read_lake_snapshot,
    write_lake,
    write_lake_frames,
)
from loaders.synthetic import SyntheticConfig, generate_marketplace, to_contract_frames
from loaders.synthetic.export import write_export
from loaders.validate import ExportReader
from tests.graph.frames import make_frames
from tests.graph.test_versions import CHANGE, EARLY, LATE, MOVER, _new_version, _versioned

TABLES = ("businesses", "identifiers", "orders", "outcomes", "credit_events")


def _write(root: Path, businesses, identifiers, orders, outcomes, events=None, key="fp") -> dict:
    rows = LakeRows(businesses, identifiers, [orders], outcomes, events)
    return write_lake_frames(root, rows, key_fingerprint=key, base_currency="USD", source="test")


def _same(lake, neo4j) -> None:
    for name in TABLES:
        a = getattr(lake, name).reset_index(drop=True)
        b = getattr(neo4j, name).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)


def test_a_validated_export_round_trips_with_orders_partitioned_by_month(tmp_path: Path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=400, seed=4))
    export = tmp_path / "export"
    write_export(market, export)
    root = tmp_path / "lake"
    with ExportReader(export, b"lake-key", rejects_dir=None) as reader:
        rows = write_lake(reader, root, source=str(export))
        kept = reader.report.tables["transactions"].kept
    assert rows["orders"] == kept > 0
    months = sorted(p.name for p in (root / "orders").iterdir())
    assert months[0].startswith("month=") and len(months) > 12
    manifest = lake_manifest(root)
    assert manifest["exports"][0]["rows"] == rows and len(manifest["key_fingerprint"]) > 0
    snapshot = read_lake_snapshot(root, "2024-01-01")
    cut = pd.Timestamp("2024-01-01", tz="UTC")
    assert (snapshot.orders["ts"] < cut).all()
    assert (snapshot.businesses["registered_at"] < cut).all()
    assert (snapshot.outcomes["as_of"] == cut).all() and len(snapshot.outcomes) > 0
    assert (snapshot.credit_events["at"] < cut).all()
    # Identifiers arrive hashed: no raw phone number from the export is in the lake.
    raw = pd.read_csv(export / "businesses.csv", dtype=str)["phone"].dropna()
    stored = pd.read_parquet(root / "identifiers")["id_hash"]
    assert not set(raw) & set(stored)


def test_a_later_export_supersedes_rows_and_another_key_is_refused(tmp_path: Path) -> None:
    f = make_frames(n_businesses=20, n_orders=80)
    root = tmp_path / "lake"
    _write(root, f.businesses, f.identifiers, f.orders, f.outcomes)
    late = f.orders["ts"].max() + pd.Timedelta(days=1)
    changed = f.orders.iloc[:5].assign(status="refunded", status_at=f.orders["ts"].iloc[:5])
    _write(root, f.businesses.iloc[0:0], f.identifiers.iloc[0:0], changed, f.outcomes.iloc[0:0])
    orders = read_lake_snapshot(root, late).orders.set_index("txn_id")
    assert len(orders) == len(f.orders)  # superseded, not duplicated
    assert (orders.loc[changed["txn_id"], "status"] == "refunded").all()
    assert [e["export"] for e in json.loads((root / "_lake.json").read_text())["exports"]] == [1, 2]
    # A table empty in one export (untyped columns) and filled in another reads as one.
    first = f.businesses["business_id"].iloc[0]
    events = pd.DataFrame(
        {"business_id": [first], "event": ["defaulted"], "at": [late - pd.Timedelta(days=2)]}
    )
    _write(root, f.businesses.iloc[0:0], f.identifiers.iloc[0:0], f.orders.iloc[0:0],
           f.outcomes.iloc[0:0], events)  # fmt: skip
    assert len(read_lake_snapshot(root, late).credit_events) == 1
    with pytest.raises(LakeError, match="hashed with key fp"):
        _write(root, f.businesses, f.identifiers, f.orders, f.outcomes, key="other")
    with pytest.raises(LakeError, match="not a tradegraph lake"):
        read_lake_snapshot(tmp_path / "nowhere", late)


@pytest.mark.neo4j
def test_lake_snapshots_equal_neo4j_snapshots_on_the_same_rows(neo4j_driver, tmp_path) -> None:
    market = generate_marketplace(SyntheticConfig(n_businesses=600, seed=9))
    businesses, identifiers, orders, outcomes = to_contract_frames(market, "test-key")
    events = market.credit_events
    load_frames(neo4j_driver, businesses, identifiers, [orders], outcomes,
                key_fingerprint="fp", batch_size=5000, credit_events=events)  # fmt: skip
    root = tmp_path / "lake"
    _write(root, businesses, identifiers, orders, outcomes, events)
    for as_of in ("2023-07-01", "2024-01-01", "2024-06-15"):
        _same(read_lake_snapshot(root, as_of), read_snapshot(neo4j_driver, as_of))


@pytest.mark.neo4j
def test_lake_reads_business_versions_as_neo4j_does(neo4j_driver, tmp_path) -> None:
    f = make_frames(n_orders=100)
    businesses, identifiers = _versioned(f)
    row, carried = _new_version(businesses, identifiers, MOVER, CHANGE, region="R9", phone="p-new")
    businesses = pd.concat([businesses, row], ignore_index=True)
    identifiers = pd.concat([identifiers, carried], ignore_index=True)
    load_frames(neo4j_driver, businesses, identifiers, [f.orders], f.outcomes,
                key_fingerprint="fp", batch_size=7)  # fmt: skip
    root = tmp_path / "lake"
    _write(root, businesses, identifiers, f.orders, f.outcomes)
    for as_of in (EARLY, CHANGE, CHANGE + pd.Timedelta(microseconds=1), LATE):
        lake = read_lake_snapshot(root, as_of)
        _same(lake, read_snapshot(neo4j_driver, as_of))
    assert lake.businesses.set_index("business_id").loc[MOVER, "region"] == "R9"


@pytest.mark.neo4j
def test_load_writes_the_lake_in_the_same_pass_and_only_a_finished_load_commits_it(
    neo4j_driver, tmp_path, monkeypatch
) -> None:
    import graph.load

    market = generate_marketplace(SyntheticConfig(n_businesses=500, seed=13))
    export = tmp_path / "export"
    write_export(market, export)
    root = tmp_path / "lake"
    real, calls = graph.load._order_batch, {"n": 0}

    def dies_in_second_batch(tx, batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionResetError("connection to Neo4j lost mid-load")
        return real(tx, batch)

    with monkeypatch.context() as patch:
        patch.setattr(graph.load, "_order_batch", dies_in_second_batch)
        with pytest.raises(ConnectionResetError):
            graph.load.load_export(neo4j_driver, export, b"lake-key", batch_size=2000, lake=root)
    with pytest.raises(LakeError):  # nothing committed: the half-written export is not read
        read_lake_snapshot(root, "2024-01-01")
    graph.load.load_export(neo4j_driver, export, b"lake-key", batch_size=2000, lake=root)
    assert [e["export"] for e in lake_manifest(root)["exports"]] == [1]
    for as_of in ("2023-07-01", "2024-06-15"):
        _same(read_lake_snapshot(root, as_of), read_snapshot(neo4j_driver, as_of))
