"""Errors of the local Neo4j server, each with a message that says what to do next."""

from __future__ import annotations


class Neo4jSetupError(RuntimeError):
    """The local server cannot be set up or started (Java, jars, port, data folder)."""
