"""A key sent in the URL is refused and never lands in the access log of ``tradegraph serve``
(the real command, its uvicorn and its log output)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.serve import start_serve, stop_serve

pytestmark = pytest.mark.neo4j

KEY = "serve-key-ABCDEFGHIJKLMNOP0123"


def test_api_access_log_never_holds_keys_sent_in_the_query_string(
    neo4j_driver, neo4j_server, tmp_path: Path
) -> None:
    server, base = start_serve(neo4j_server, tmp_path, KEY, "--host", "127.0.0.1")
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
        output = stop_serve(server, timeout_s=30)
    assert '"GET /businesses/A/score?api_key=REDACTED HTTP/1.1" 401' in output, output
    assert "/clusters?limit=3" in output  # ordinary parameters are kept
    for secret in [*leaks.values(), KEY]:
        assert secret not in output, f"{secret} reached the access log"
