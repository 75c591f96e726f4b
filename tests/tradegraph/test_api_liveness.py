"""The gate's guarded read: a route's own read is the liveness check, retried once within the
probe's budget after a dead pooled connection, and a server it cannot reach is remembered as
down so that the next requests are refused without touching the driver.

The driver here is a stand-in that fails or answers on cue; the real-server cases (closed port,
hung listener, a relay that is cut and restored) are in ``tests/adversarial``."""

from __future__ import annotations

from typing import Any

import pytest
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from tradegraph.api.liveness import Neo4jDownError, Neo4jGate


class _Session:
    def __init__(self, driver: _Driver) -> None:
        self.driver = driver

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def run(self, *_query: object, **_params: object) -> str:
        return self.answer()

    def answer(self) -> str:
        outcome = self.driver.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)


class _Driver:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.sessions: list[dict[str, Any]] = []

    def session(self, **config: Any) -> _Session:
        self.sessions.append(config)
        return _Session(self)


def _read(session: Any) -> str:
    return session.answer()  # type: ignore[no-any-return]


def test_a_read_that_meets_a_dead_pooled_connection_is_tried_once_more() -> None:
    driver = _Driver(SessionExpired("dead pooled connection"), "row")
    gate = Neo4jGate(driver)  # type: ignore[arg-type]
    assert gate.read(_read) == "row"
    assert len(driver.sessions) == 2
    driver.outcomes.append("next")
    assert gate.read(_read) == "next"  # not remembered down


def test_a_server_that_cannot_be_reached_is_remembered_down_and_refused_at_once() -> None:
    driver = _Driver(ServiceUnavailable("refused"), ServiceUnavailable("refused"))
    gate = Neo4jGate(driver)  # type: ignore[arg-type]
    with pytest.raises(Neo4jDownError):
        gate.read(_read)
    assert len(driver.sessions) == 2
    with pytest.raises(Neo4jDownError):
        gate.read(_read)  # within down_ttl_s: not even a session
    assert len(driver.sessions) == 2


def test_guarded_reads_never_retry_and_bound_the_wait_for_a_connection() -> None:
    driver = _Driver("row")
    gate = Neo4jGate(driver, probe_timeout_s=0.4)  # type: ignore[arg-type]
    gate.read(_read)
    config = driver.sessions[0]
    assert config["max_transaction_retry_time"] == 0.0
    assert config["disable_auto_commit_retries"] is True
    assert config["connection_acquisition_timeout"] == pytest.approx(0.4)


def test_an_error_in_the_query_itself_is_not_taken_for_a_dead_server() -> None:
    driver = _Driver(ValueError("a bug in the route"))
    gate = Neo4jGate(driver)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        gate.read(_read)
    assert gate._cached() is not False


def test_the_latest_score_run_is_read_through_the_gate() -> None:
    """The run read (to flag a book that mixes two runs) is bounded like the stored read: with
    Neo4j known down it is refused at once, never left to the driver's own retries."""
    from tradegraph.api.dependencies import AppContext

    driver = _Driver(ServiceUnavailable("refused"), ServiceUnavailable("refused"))
    gate = Neo4jGate(driver)  # type: ignore[arg-type]
    context = AppContext(driver, None, scorer=None, gate=gate, batch_limit=10, key="k")  # type: ignore[arg-type]
    with pytest.raises(Neo4jDownError):
        context.score_run()
    assert len(driver.sessions) == 2  # the gate's bounded sessions, not the driver's retries
    assert all(c["max_transaction_retry_time"] == 0.0 for c in driver.sessions)
    with pytest.raises(Neo4jDownError):
        context.score_run()  # remembered down: no session at all
    assert len(driver.sessions) == 2
