"""Hostile input to the API: out-of-range dates, oversized bodies, long or control-character
ids. Each is a clear 4xx that never echoes the input back, and a huge body is refused before
the server reads it."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import neo4j
import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient

from graph.scores import write_scores
from tradegraph.api import create_app
from tradegraph.api.limits import MAX_BODY_BYTES
from tradegraph.settings import Settings

pytestmark = pytest.mark.neo4j

KEY = "adversarial-key-0123456789"
HEADERS = {"X-API-Key": KEY}


def _one_order_per_business(snapshot, as_of: pd.Timestamp, ids: list[str]) -> pd.DataFrame:
    """A model that only looks at the snapshot it is given (the test checks the API's
    handling of the date, not the model)."""
    present = snapshot.businesses["business_id"].astype(str)
    ids = [i for i in ids if i in set(present)]
    return pd.DataFrame(
        {
            "business_id": ids,
            "pd": 0.1,
            "score": 650,
            "grade": "C",
            "reasons": [[f"as of {as_of.date()}"] for _ in ids],
            "model_version": "snapshot-only",
        }
    )


@pytest.fixture
def app(neo4j_driver: neo4j.Driver):
    neo4j_driver.execute_query(
        "UNWIND ['A', 'B'] AS id CREATE (:Business {business_id: id, kind: 'sme', "
        "registered_at: $at})",
        at=dt.datetime(1971, 1, 1, tzinfo=dt.UTC),
    )
    scores = pd.DataFrame(
        {"business_id": ["A"], "pd": [0.05], "score": [700], "grade": ["B"], "reasons": [["r"]]}
    )
    write_scores(neo4j_driver, scores, "2026-01-01", "m-limits")
    settings = Settings(_env_file=None, api_key=KEY)  # type: ignore[call-arg]
    return create_app(neo4j_driver, settings, score_function=_one_order_per_business)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.mark.parametrize("as_of", ["0001-01-01", "1969-12-31", "2100-01-02", "2262-04-12",
                                   "9999-12-31"])  # fmt: skip
def test_api_as_of_outside_1970_to_2100_is_a_clear_422_not_a_500(client, as_of: str) -> None:
    response = client.post("/score", headers=HEADERS, json={"business_ids": ["B"], "as_of": as_of})
    assert response.status_code == 422, response.text
    assert "as_of must be a date from 1970-01-01 to 2100-01-01" in response.text
    assert as_of not in response.text  # the input is not echoed


@pytest.mark.parametrize("as_of", ["1970-01-01", "2100-01-01"])
def test_api_as_of_at_the_edges_of_the_range_is_scored(client, as_of: str) -> None:
    response = client.post("/score", headers=HEADERS, json={"business_ids": ["B"], "as_of": as_of})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["business_id"], e["error"]) for e in body["errors"]] == (
        [("B", "not_registered_by_as_of")] if as_of == "1970-01-01" else []
    )
    if as_of == "2100-01-01":
        assert body["scores"][0]["as_of"] == as_of


def test_api_ids_over_64_characters_or_with_control_characters_are_422(client) -> None:
    long_id = "L" * 65
    for bad in (long_id, "A\x00", "A\u200b"):  # too long, NUL, zero-width space
        for response in (
            client.post("/score", headers=HEADERS, json={"business_ids": [bad]}),
            client.get(f"/businesses/{quote(bad, safe='')}/score", headers=HEADERS),
            client.get(f"/businesses/{quote(bad, safe='')}/neighbourhood", headers=HEADERS),
        ):
            assert response.status_code == 422, (bad, response.text)
            assert long_id not in response.text and "\\u0000" not in response.text
    assert "1 to 64 characters" in client.get(f"/businesses/{long_id}/score", headers=HEADERS).text
    # 64 characters is within the contract: an unknown business, not a malformed id.
    assert client.get(f"/businesses/{'L' * 64}/score", headers=HEADERS).status_code == 404


def test_api_validation_errors_never_echo_the_input(client) -> None:
    hostile = "<script>alert(1)</script>" + "X" * 40_000
    for body in ({"business_ids": hostile}, {"business_ids": ["A"], hostile[:60]: 1}):
        response = client.post("/score", headers=HEADERS, json=body)
        assert response.status_code == 422
        assert "<script>" not in response.text and "XXXX" not in response.text
        assert len(response.content) < 1_000


def test_api_body_over_64_kib_is_413_also_when_chunked(client) -> None:
    big = {"business_ids": ["A"] * 20_000}  # about 120 KB of JSON
    response = client.post("/score", headers=HEADERS, json=big)
    assert response.status_code == 413 and str(MAX_BODY_BYTES) in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"business_ids": ["'
        for _ in range(20):
            yield b"A" * 10_000
        yield b'"]}'

    chunked = client.post(
        "/score", headers=HEADERS | {"content-type": "application/json"}, content=chunks()
    )
    assert chunked.status_code == 413
    assert "AAAA" not in chunked.text


@pytest.fixture
def served(app) -> Iterator[int]:
    """The app on a real uvicorn server (HTTP parsing and the socket included)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)


def test_api_refuses_a_100_mb_body_before_reading_it(served: int) -> None:
    head = (
        "POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", served), timeout=5) as sock:
        # Only the headers and a few bytes are sent: the answer must not wait for the rest.
        sock.sendall(head + b'{"business_ids": ["' + b"A" * 1000)
        start = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or b"}" not in answer.split(b"\r\n\r\n", 1)[1]:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"AAAA" not in answer
    assert elapsed < 2.0
