"""The local Neo4j server: real starts and stops, data that survives a restart, bad setups."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from graph.server import local
from graph.server.errors import Neo4jSetupError
from graph.server.java import find_java
from tests.ports import free_port


def _config(data_dir: Path, **overrides) -> local.LocalServerConfig:
    return local.LocalServerConfig(
        data_dir=data_dir, bolt_port=free_port(), heap="768m", pagecache="256m", **overrides
    )


@pytest.mark.slow
@pytest.mark.neo4j
def test_start_write_stop_start_keeps_the_data(tmp_path: Path) -> None:
    config = _config(tmp_path / "neo4j", apoc=False)
    info = local.start(config)
    try:
        assert not info.already_running
        assert local.start(config).already_running  # idempotent
        with GraphDatabase.driver(info.uri, auth=(info.user, info.password)) as driver:
            driver.execute_query("CREATE (:Probe {name: $name})", name="kept")
        assert local.stop(config) is True
        assert local.status(config)["running"] is False
        assert local.stop(config) is False  # stopping nothing is not an error

        again = local.start(config)
        with GraphDatabase.driver(again.uri, auth=(again.user, again.password)) as driver:
            records = driver.execute_query("MATCH (p:Probe) RETURN p.name AS name").records
        assert [r["name"] for r in records] == ["kept"]
        # The generated password is kept beside the data, readable by its owner only.
        auth = tmp_path / "neo4j" / "auth.json"
        assert json.loads(auth.read_text())["password"] == again.password
        assert auth.stat().st_mode & 0o077 == 0
    finally:
        local.stop(config)


@pytest.mark.neo4j
def test_port_already_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        config = local.LocalServerConfig(data_dir=tmp_path / "n", bolt_port=port)
        with pytest.raises(Neo4jSetupError, match=f"Port {port} .* already taken"):
            local.start(config)
    assert local.status(config)["running"] is False


def test_data_folder_of_another_version_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "n"
    data_dir.mkdir()
    (data_dir / "VERSION").write_text("4.4.30")
    with pytest.raises(Neo4jSetupError, match="written by Neo4j 4.4.30"):
        local._check_store_version(_config(data_dir))


def test_foreign_store_without_marker_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "n" / "data" / "databases" / "neo4j"
    store.mkdir(parents=True)
    (store / "neostore").write_bytes(b"\0")
    with pytest.raises(Neo4jSetupError, match="did not create"):
        local._check_store_version(_config(tmp_path / "n"))


def test_unsupported_java_is_refused(tmp_path: Path) -> None:
    fake_home = tmp_path / "jdk25"
    (fake_home / "bin").mkdir(parents=True)
    java = fake_home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"25.0.1\" 2025-10-21' >&2\n")
    java.chmod(0o755)
    with pytest.raises(Neo4jSetupError, match="Java 25; Neo4j 5.26 runs on Java 17 or 21"):
        find_java(fake_home)


def test_missing_java_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Neo4jSetupError, match="no working bin/java"):
        find_java(tmp_path / "nowhere")


def test_found_java_is_supported() -> None:
    assert find_java().major in (17, 21)


def test_maven_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn anywhere
    config = _config(tmp_path / "n", jar_cache=tmp_path / "empty-cache")
    with pytest.raises(Neo4jSetupError, match="Maven is needed once"):
        local.ensure_jars(config)


def test_maven_central_unreachable_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mvn = tmp_path / "bin" / "mvn"
    fake_mvn.parent.mkdir()
    fake_mvn.write_text(
        "#!/bin/sh\necho '[ERROR] Could not transfer artifact: Unknown host' ; exit 1\n"
    )
    fake_mvn.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_mvn.parent}:/usr/bin:/bin")
    config = _config(tmp_path / "n", jar_cache=tmp_path / "empty-cache")
    with pytest.raises(Neo4jSetupError, match="(?s)Could not download Neo4j .* Unknown host"):
        local.ensure_jars(config)
    assert not config.lib_dir.exists()  # nothing half-downloaded is left to be trusted later
    assert not config.lib_dir.with_name("lib.partial").exists()


def test_artifact_name_strips_versions() -> None:
    assert (
        local._artifact_name("io.netty.netty-common-4.1.137.Final.jar") == "io.netty.netty-common"
    )
    assert (
        local._artifact_name("org.neo4j.gds.annotations-2.13.9.jar") == "org.neo4j.gds.annotations"
    )
    assert local._artifact_name("org.roaringbitmap.RoaringBitmap-0.7.17.jar") == (
        "org.roaringbitmap.RoaringBitmap"
    )
