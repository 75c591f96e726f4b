"""`load --bulk` replaces only an empty database in a folder tradegraph created.

Probes that failed: a bulk import replaced a *stopped* database holding 1,500 businesses and
74,449 orders without a question, and replaced a store that ``neo4j start`` refuses as "not
created by tradegraph", rewriting its config so the guard never fired again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from graph.bulk import bulk_import, guard_bulk_target, node_store_has_nodes, write_import_csvs
from graph.server import local
from graph.server.errors import Neo4jSetupError
from tests.graph.frames import make_frames
from tests.ports import free_port


def _config(data_dir: Path) -> local.LocalServerConfig:
    return local.LocalServerConfig(
        data_dir=data_dir,
        bolt_port=free_port(),
        heap="512m",
        pagecache="128m",
        apoc=False,
        gds=False,
    )


def _csvs(folder: Path) -> Path:
    f = make_frames(n_businesses=6, n_orders=20, seed=5)
    write_import_csvs(
        folder, f.businesses, f.identifiers, [f.orders], f.outcomes, key_fingerprint="fp"
    )
    return folder


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes and its mode."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        + oct(p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_bulk_refuses_a_store_not_created_by_tradegraph_and_leaves_it_untouched(
    tmp_path: Path,
) -> None:
    foreign = tmp_path / "theirs"
    store = foreign / "data" / "databases" / "neo4j"
    store.mkdir(parents=True)
    (store / "neostore").write_bytes(b"their store")
    (foreign / "conf").mkdir()
    (foreign / "conf" / "neo4j.conf").write_text("server.bolt.listen_address=0.0.0.0:7687\n")
    before = _fingerprint(foreign)
    csvs = _csvs(tmp_path / "csv")
    for overwrite in (False, True):
        with pytest.raises(Neo4jSetupError, match="not created by tradegraph"):
            bulk_import(_config(foreign), csvs, overwrite=overwrite)
    assert _fingerprint(foreign) == before  # no VERSION written, config not rewritten
    with pytest.raises(Neo4jSetupError, match="tradegraph did not create"):
        local.start(_config(foreign))  # the server refuses it too, and also leaves it alone
    assert _fingerprint(foreign) == before


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_claims_a_new_folder_and_imports_into_it(tmp_path: Path) -> None:
    config = _config(tmp_path / "new")
    guard_bulk_target(config)
    assert (config.data_dir / "VERSION").read_text().strip() == config.version
    result = bulk_import(config, _csvs(config.data_dir / "import" / "csv"))
    assert result.orders == 20
    assert node_store_has_nodes(config.data_dir / "data" / "databases" / "neo4j")


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_refuses_a_database_that_holds_data_whether_running_or_stopped(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path / "neo4j")
    store = config.data_dir / "data" / "databases" / "neo4j"
    csvs = _csvs(tmp_path / "csv")
    info = local.start(config)
    try:
        guard_bulk_target(config)  # running and empty: allowed
        with GraphDatabase.driver(info.uri, auth=(info.user, info.password)) as driver:
            driver.execute_query("CREATE (:Gone {n: 1})")
            driver.execute_query("MATCH (n:Gone) DELETE n")
        local.stop(config)
        guard_bulk_target(config)  # stopped, nodes written and deleted: still empty

        info = local.start(config)
        with GraphDatabase.driver(info.uri, auth=(info.user, info.password)) as driver:
            driver.execute_query("UNWIND range(1, 50) AS i CREATE (:Kept {i: i})")
        with pytest.raises(Neo4jSetupError, match="not known to be empty"):
            guard_bulk_target(config)  # running, over Bolt
        with pytest.raises(Neo4jSetupError, match="is running; stop it first"):
            bulk_import(config, csvs, overwrite=True)
    finally:
        local.stop(config)

    before = _fingerprint(store)
    with pytest.raises(Neo4jSetupError, match="not known to be empty .*holds nodes"):
        bulk_import(config, csvs)  # stopped, from the store files
    assert _fingerprint(store) == before
    assert node_store_has_nodes(store)

    replaced = bulk_import(config, csvs, overwrite=True)  # the user said so explicitly
    assert replaced.orders == 20
    assert _fingerprint(store) != before
