"""Is Neo4j up? A fast answer for the API, so that a stopped server costs a client well under
a second instead of the driver's 30-60 s of connection retries.

:class:`Neo4jGate` probes with one ``RETURN 1`` in a session whose connection acquisition
(connect and Bolt handshake included) is bounded by ``probe_timeout_s`` and which never
retries. A "down" answer is remembered for ``down_ttl_s`` seconds (every request in that window
is refused at once, without touching the driver), an "up" answer for ``up_ttl_s`` seconds
(default 0: every request probes, one loopback round trip, so a request never meets a server
that died a moment ago and the driver's 30 s of retries); after that the next request probes
again, so the API recovers by itself when Neo4j comes back.

:meth:`Neo4jGate.read` runs a route's own read under the same bounds instead of a probe
before it: the read is the liveness check (one round trip per request, not two), and a failure
to reach the server marks it down and answers 503 as fast as a failed probe would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from graph import cypher

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The body of every 503 caused by Neo4j: what to do, never the server's address or the error.
NEO4J_DOWN_DETAIL = (
    "The graph database is not reachable; try again shortly. "
    "Operators: check `tradegraph neo4j status` and the API's log."
)


class Neo4jDownError(RuntimeError):
    """Neo4j did not answer the liveness probe (the API answers 503)."""


@dataclass
class Neo4jGate:
    """A cached liveness check of the driver's server."""

    driver: neo4j.Driver
    database: str | None = None
    probe_timeout_s: float = 0.6
    up_ttl_s: float = 0.0
    down_ttl_s: float = 2.0
    _state: tuple[bool, float] | None = None

    def is_up(self) -> bool:
        """True when Neo4j answered within ``probe_timeout_s`` (cached as described above)."""
        cached = self._cached()
        if cached is not None:
            return cached
        up = self._probe()
        self._remember(up)
        return up

    def require(self) -> None:
        """Raise :class:`Neo4jDownError` unless Neo4j is up."""
        if not self.is_up():
            raise Neo4jDownError(NEO4J_DOWN_DETAIL)

    def mark_down(self) -> None:
        """Remember that a request just failed to reach Neo4j."""
        self._remember(False)

    def _cached(self) -> bool | None:
        state = self._state
        if state is None:
            return None
        up, at = state
        ttl = self.up_ttl_s if up else self.down_ttl_s
        return up if time.monotonic() - at < ttl else None

    def _remember(self, up: bool) -> None:
        previous = self._state
        self._state = (up, time.monotonic())
        if previous is not None and previous[0] != up:
            logger.warning("Neo4j is %s", "reachable again" if up else "not reachable")

    def read(self, work: Callable[[neo4j.Session], T]) -> T:
        """``work(session)``'s result, in a session bounded like the probe (no retries, at most
        ``probe_timeout_s`` to get a connection, one more try within it after a dead pooled
        connection). Raises :class:`Neo4jDownError` at once while Neo4j is known to be down,
        and when the server cannot be reached (remembered, as a failed probe is)."""
        if self._cached() is False:
            raise Neo4jDownError(NEO4J_DOWN_DETAIL)
        start = time.monotonic()
        left = self.probe_timeout_s
        for attempt in (1, 2):
            try:
                with self._session(left) as session:
                    result = work(session)
            except (DriverError, OSError) as err:
                left = self.probe_timeout_s - (time.monotonic() - start)
                logger.info("Neo4j read failed (try %d): %s", attempt, type(err).__name__)
                if attempt == 1 and left > 0.05:
                    continue
                self._remember(False)
                raise Neo4jDownError(NEO4J_DOWN_DETAIL) from err
            self._remember(True)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self, timeout_s: float) -> neo4j.Session:
        return self.driver.session(
            database=self.database,
            connection_acquisition_timeout=timeout_s,
            max_transaction_retry_time=0.0,
            disable_auto_commit_retries=True,
            notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF,
        )

    def _probe(self) -> bool:
        # A second try within the same budget: after a restart of Neo4j the first one may
        # take a dead pooled connection and fail at once.
        start = time.monotonic()
        if self._probe_once(self.probe_timeout_s):
            return True
        left = self.probe_timeout_s - (time.monotonic() - start)
        return left > 0.05 and self._probe_once(left)

    def _probe_once(self, timeout_s: float) -> bool:
        try:
            with self._session(timeout_s) as session:
                session.run(cypher.PING).consume()
        except (DriverError, Neo4jError, OSError) as err:
            logger.info("Neo4j liveness probe failed: %s", type(err).__name__)
            return False
        return True
