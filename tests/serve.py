"""The real ``tradegraph serve`` in a process of its own, against the suite's Neo4j, for the
tests that need its uvicorn, its workers or its log output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.ports import free_port


def start_serve(
    neo4j_server: Any, work_dir: Path, key: str, *args: str
) -> tuple[subprocess.Popen[str], str]:
    """``tradegraph serve --port <free> *args`` in ``work_dir`` (its home below it), with ``key``
    and the suite's Neo4j; returns the process (stdout and stderr together, as text) and its
    base URL."""
    port = free_port()
    env = os.environ | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
        "TRADEGRAPH_API_KEY": key,
        "TRADEGRAPH_HOME": str(work_dir / "home"),
    }
    code = "from tradegraph.cli.main import app; app()"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), *args],
        env=env, cwd=work_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def stop_serve(server: subprocess.Popen[str], timeout_s: float = 60) -> str:
    """Stop it as Ctrl-C would and return everything it printed."""
    server.send_signal(signal.SIGINT)
    try:
        output, _ = server.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        server.kill()
        output, _ = server.communicate()
    return output
