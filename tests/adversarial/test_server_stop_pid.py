"""`neo4j stop` signals only this data folder's Neo4j, never whatever holds a stale pid.

Probe that failed: ``server.json`` named the pid of an unrelated process (the server had died
and the pid was reused), and ``tradegraph neo4j stop`` killed it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.server import local


def _config(data_dir: Path) -> local.LocalServerConfig:
    return local.LocalServerConfig(data_dir=data_dir, bolt_port=1)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def _server_json(data_dir: Path, pid: int, **extra: object) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    state = {"pid": pid, "uri": "bolt://127.0.0.1:1", "started_at": time.time(), **extra}
    (data_dir / "server.json").write_text(json.dumps(state))


def test_stop_spares_an_unrelated_process_named_in_server_json(
    tmp_path: Path, bystander: subprocess.Popen
) -> None:
    config = _config(tmp_path / "neo4j")
    _server_json(config.data_dir, bystander.pid)
    assert local.status(config)["running"] is False
    assert local.stop(config) is False
    time.sleep(0.3)
    assert bystander.poll() is None, "stop killed a process that was not our Neo4j"
    assert not (config.data_dir / "server.json").exists()  # the stale record is dropped


def test_stop_spares_a_look_alike_that_started_at_another_time(tmp_path: Path) -> None:
    """Same command line as our server (entry point, this --home-dir), but it is not the
    process server.json recorded: its start time differs."""
    config = _config(tmp_path / "neo4j")
    config.data_dir.mkdir(parents=True)
    look_alike = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(300)",
            "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={config.data_dir.resolve()}",
        ]
    )
    try:
        started = local._process_start_ticks(look_alike.pid)
        if started is None:
            pytest.skip("no /proc start times on this platform")
        _server_json(config.data_dir, look_alike.pid, process_start=started + 1)
        assert local.stop(config) is False
        time.sleep(0.3)
        assert look_alike.poll() is None

        # The same process, recorded with its true start time, is recognised as ours.
        _server_json(config.data_dir, look_alike.pid, process_start=started)
        assert local.status(config)["running"] is True
        assert local.stop(config) is True
        assert not local._pid_alive(look_alike.pid)
    finally:
        look_alike.kill()
        look_alike.wait(timeout=10)
