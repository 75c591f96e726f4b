"""The local server's secrets and data stay with their owner.

Probes that failed: the generated Neo4j password was an argument of ``neo4j-admin dbms
set-initial-password`` during the first start (visible to every local user in ``ps``); the
store, transaction logs and ``auth.ini`` were world-readable (0644).
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from graph.server import local
from tests.ports import free_port

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


class _ProcessWatcher:
    """Collects the command line of every process on the machine, as ``ps`` would show it,
    every 50 ms while running."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        argv = (entry / "cmdline").read_bytes()
                    except OSError:
                        continue
                    self.seen.add(argv.replace(b"\0", b" ").decode(errors="replace"))
            self._stop.wait(0.05)

    def __enter__(self) -> _ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _loose_files(root: Path) -> Iterator[str]:
    """Everything under ``root`` that a user other than the owner could read or enter."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                yield f"{oct(mode & 0o777)} {path.relative_to(root)}"


def test_first_start_keeps_the_password_out_of_argv_and_every_data_file_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "neo4j"
    # A folder an older tradegraph left world-readable: narrowed on the next start.
    (data_dir / "logs").mkdir(parents=True)
    (data_dir / "logs" / "console.log").write_text("old\n")
    (data_dir / "logs" / "console.log").chmod(0o644)
    data_dir.chmod(0o755)
    config = local.LocalServerConfig(
        data_dir=data_dir, bolt_port=free_port(), heap="512m", pagecache="128m", apoc=False
    )
    launched: list[str] = []
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **kwargs) -> None:
            launched.append(args if isinstance(args, str) else " ".join(map(str, args)))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    try:
        with _ProcessWatcher() as watcher:
            info = local.start(config)
        monkeypatch.undo()
        password = info.password
        assert len(launched) >= 2  # neo4j-admin set-initial-password, then the server
        assert any("set-initial-password" in cmd for cmd in launched)
        assert not [cmd for cmd in launched if password in cmd]
        assert any("set-initial-password" in cmd for cmd in watcher.seen), "watcher missed it"
        assert not [cmd for cmd in watcher.seen if password in cmd]
        assert not [p for p in data_dir.rglob("*args*") if p.is_file()]  # argument file gone

        with GraphDatabase.driver(info.uri, auth=(info.user, info.password)) as driver:
            driver.execute_query("UNWIND range(1, 100) AS i CREATE (:Probe {i: i})")
        for name in ("auth.json", "server.json", "VERSION", "data/dbms/auth.ini"):
            assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
        assert data_dir.stat().st_mode & 0o777 == 0o700
        assert list(_loose_files(data_dir)) == []
        for log in (data_dir / "logs").iterdir():
            assert password not in log.read_text(errors="replace"), log.name
    finally:
        monkeypatch.undo()
        local.stop(config)
    assert list(_loose_files(data_dir)) == []  # transaction logs and checkpoint after stop
    assert any((data_dir / "data" / "transactions").rglob("neostore.transaction.db.*"))
