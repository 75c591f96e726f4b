"""Open a driver to a Neo4j server and check it answers, with errors that say what to do.

Connecting is bounded (:data:`CONNECT_TIMEOUT_S` for one TCP connect and handshake,
:data:`ACQUIRE_TIMEOUT_S` to get a connection from the pool) so that an unreachable server
is reported in seconds rather than the driver's default 30-60 s."""

from __future__ import annotations

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

CONNECT_TIMEOUT_S = 5.0
ACQUIRE_TIMEOUT_S = 10.0


class Neo4jConnectionError(RuntimeError):
    """The server named by the settings cannot be reached or rejects the credentials."""


def connect(
    uri: str,
    user: str,
    password: str | None,
    *,
    what: str = "NEO4J_URI",
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    acquire_timeout_s: float = ACQUIRE_TIMEOUT_S,
) -> Driver:
    """A driver for ``uri`` whose connectivity and credentials have been checked."""
    auth = (user, password) if password is not None else None
    driver = GraphDatabase.driver(
        uri,
        auth=auth,
        connection_timeout=connect_timeout_s,
        connection_acquisition_timeout=acquire_timeout_s,
    )
    try:
        driver.verify_connectivity()
    except AuthError as err:
        driver.close()
        raise Neo4jConnectionError(
            f"{what}={uri} rejected the credentials for user '{user}'. Check NEO4J_USER and "
            "NEO4J_PASSWORD (or unset NEO4J_URI to use the local server tradegraph starts)."
        ) from err
    except (ServiceUnavailable, OSError, ValueError) as err:
        driver.close()
        raise Neo4jConnectionError(
            f"No Neo4j answers at {what}={uri} ({err}). Start that server, fix the URI, or unset "
            "NEO4J_URI to let tradegraph start its own local server."
        ) from err
    return driver
