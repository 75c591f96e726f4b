"""A key sent in the URL is refused and never lands in the access log of ``tradegraph serve``
(the real command, its uvicorn and its log output)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

pytestmark = pytest.mark.neo4j

KEY = "serve-key-ABCDEFGHIJKLMNOP0123"


def test_api_access_log_never_holds_keys_sent_in_the_query_string(
    neo4j_driver, neo4j_server, tmp_path: Path
) -> None:
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = os.environ | {
        "PYTHONPATH": str(root),
        "NEO4J_URI": neo4j_server.uri,
        "NEO4J_USER": neo4j_server.user,
        "NEO4J_PASSWORD": neo4j_server.password,
        "TRADEGRAPH_API_KEY": KEY,
        "TRADEGRAPH_HOME": str(tmp_path / "home"),
    }
    code = "from tradegraph.cli.main import app; app()"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded CI machine imports slowly
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)
        leaks = {
            "api_key": "leak-one-1111111111",
            "key": "leak-two-2222222222",
            "token": "leak-three-33333333",
            "X-API-Key": "leak-four-44444444",
        }
        for name, value in leaks.items():
            response = httpx.get(f"{base}/businesses/A/score", params={name: value})
            assert response.status_code == 401
        # The real key under an innocent name, and as a bare query, is redacted too.
        assert httpx.get(f"{base}/clusters?q={KEY}").status_code == 401
        assert httpx.get(f"{base}/clusters?{KEY}").status_code == 401
        assert httpx.get(f"{base}/clusters?limit=3", headers={"X-API-Key": KEY}).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert '"GET /businesses/A/score?api_key=REDACTED HTTP/1.1" 401' in output, output
    assert "/clusters?limit=3" in output  # ordinary parameters are kept
    for secret in [*leaks.values(), KEY]:
        assert secret not in output, f"{secret} reached the access log"
