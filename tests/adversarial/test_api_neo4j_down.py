"""The API with Neo4j gone: a 503 within a second on every route, no server address or
internals in the body, and recovery by itself when Neo4j is back.

"Gone" is real: a driver pointed at a closed port, at a listener that never answers, or at a
TCP relay to the suite's Neo4j that the test cuts and restores (the suite's shared server
itself is never stopped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import neo4j
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from graph.scores import write_scores
from tests.ports import free_port
from tradegraph.api import create_app
from tradegraph.settings import Settings

KEY = "adversarial-key-0123456789"
HEADERS = {"X-API-Key": KEY}
ROUTES = (
    ("GET", "/health", None),
    ("GET", "/businesses/A/score", None),
    ("POST", "/score", {"business_ids": ["A"]}),
    ("GET", "/businesses/A/neighbourhood", None),
    ("GET", "/clusters", None),
)


def _no_model(*_args: object) -> pd.DataFrame:
    raise AssertionError("no on-the-fly scoring is expected in these tests")


def _app(driver: neo4j.Driver) -> TestClient:
    settings = Settings(_env_file=None, api_key=KEY)  # type: ignore[call-arg]
    return TestClient(create_app(driver, settings, score_function=_no_model))


def _assert_fast_safe_503(client: TestClient, port: int) -> None:
    for method, url, body in ROUTES:
        start = time.monotonic()
        response = client.request(method, url, headers=HEADERS, json=body)
        elapsed = time.monotonic() - start
        assert response.status_code == 503, (url, response.text)
        assert elapsed < 1.0, f"{url} took {elapsed:.2f} s to say Neo4j is down"
        text = response.text
        for internal in ("127.0.0.1", "localhost", str(port), "bolt", "neo4j://", "Traceback"):
            assert internal not in text, (url, text)


def test_api_answers_503_within_a_second_when_neo4j_is_down_and_hides_its_address() -> None:
    port = free_port()  # nothing listens here
    driver = neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", "secret"))
    try:
        client = _app(driver)
        _assert_fast_safe_503(client, port)
        health = client.get("/health").json()
        assert health["neo4j"] == "down" and health["status"] == "degraded"
    finally:
        driver.close()


def test_api_answers_503_within_a_second_when_neo4j_accepts_but_never_answers() -> None:
    with socket.socket() as hung:  # the kernel accepts connections; nobody ever replies
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        port = hung.getsockname()[1]
        driver = neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{port}", auth=("neo4j", "x"))
        try:
            _assert_fast_safe_503(_app(driver), port)
        finally:
            driver.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Relay:
    """A TCP relay from a local port to Neo4j that can be cut (listener and every open
    connection closed, so the port refuses) and restored on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _shut(listener)  # wakes the blocked accept(); close() alone would not
            listener.close()
        with self._lock:
            for sock in self._open:
                _shut(sock)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _shut(sock)


@pytest.fixture
def relay(neo4j_server) -> Iterator[Relay]:
    host, port = neo4j_server.uri.rsplit("//", 1)[1].rsplit(":", 1)
    relay = Relay((host, int(port)))
    relay.start()
    yield relay
    relay.cut()


def _scored_graph(driver: neo4j.Driver) -> None:
    driver.execute_query(
        "CREATE (:Business {business_id: 'A', kind: 'sme', registered_at: $at})",
        at=dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    )
    scores = pd.DataFrame(
        {"business_id": ["A"], "pd": [0.05], "score": [700], "grade": ["B"], "reasons": [["r"]]}
    )
    write_scores(driver, scores, "2026-01-01", "m-relay")


def test_api_recovers_by_itself_when_neo4j_comes_back(neo4j_driver, neo4j_server, relay) -> None:
    _scored_graph(neo4j_driver)
    driver = neo4j.GraphDatabase.driver(
        f"bolt://127.0.0.1:{relay.port}", auth=(neo4j_server.user, neo4j_server.password)
    )
    try:
        client = _app(driver)
        assert client.get("/businesses/A/score", headers=HEADERS).status_code == 200

        relay.cut()
        _assert_fast_safe_503(client, relay.port)

        relay.start()
        deadline = time.monotonic() + 15
        status = 503
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            status = client.get("/businesses/A/score", headers=HEADERS).status_code
        assert status == 200, "the API did not recover after Neo4j came back"
        body = client.get("/businesses/A/score", headers=HEADERS).json()
        assert body["as_of"] == "2026-01-01" and body["model_version"] == "m-relay"
        assert client.get("/health").json()["neo4j"] == "up"
    finally:
        driver.close()
