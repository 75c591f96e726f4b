"""Constraints, indexes and the ``(:SchemaInfo)`` record that guards the identifier key.

Identifiers are stored as keyed hashes; a load under a different key would produce hashes
that silently never match the stored ones. The database therefore records a fingerprint of
the key (a one-way HMAC of a fixed message, which reveals nothing about the key) and every
load checks it first.
"""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from graph import cypher
from graph.session import read_frame, run, write
from loaders.identifiers import key_fingerprint

__all__ = [
    "SCHEMA_VERSION",
    "KeyFingerprintMismatchError",
    "check_key_fingerprint",
    "ensure_schema",
    "key_fingerprint",
    "read_schema_info",
]

#: Bump when constraints, indexes or the stored model change incompatibly.
SCHEMA_VERSION = 1


class KeyFingerprintMismatchError(RuntimeError):
    """The database was loaded with another identifier-hashing key."""


class SchemaVersionError(RuntimeError):
    """The database was created by a newer, incompatible schema version."""


@dataclass(frozen=True)
class SchemaInfo:
    """What the database records about itself; ``None`` fields mean not yet recorded."""

    version: int | None
    key_fingerprint: str | None


def read_schema_info(driver: neo4j.Driver, *, database: str | None = None) -> SchemaInfo:
    """The stored schema version and key fingerprint (both ``None`` on an empty database)."""
    rows = read_frame(driver, cypher.GET_SCHEMA_INFO, database)
    if rows.empty:
        return SchemaInfo(version=None, key_fingerprint=None)
    return SchemaInfo(
        version=int(rows["version"].iloc[0]), key_fingerprint=rows["key_fingerprint"].iloc[0]
    )


def check_key_fingerprint(
    driver: neo4j.Driver, fingerprint: str, *, database: str | None = None
) -> None:
    """Raise :class:`KeyFingerprintMismatchError` if the database holds another key's hashes."""
    info = read_schema_info(driver, database=database)
    if info.key_fingerprint is not None and info.key_fingerprint != fingerprint:
        raise KeyFingerprintMismatchError(
            f"This database was loaded with another identifier-hashing key (fingerprint "
            f"{info.key_fingerprint}, this run's key has {fingerprint}). Identifiers would stop "
            "matching. Use the original TRADEGRAPH_HASH_KEY, or load into an empty database."
        )
    if info.version is not None and info.version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"The database has schema version {info.version}, newer than this tradegraph "
            f"({SCHEMA_VERSION}). Upgrade tradegraph before loading."
        )


def ensure_schema(
    driver: neo4j.Driver, key_fingerprint: str, *, database: str | None = None
) -> SchemaInfo:
    """Create constraints and indexes (idempotent), check then record the key fingerprint.

    Refuses (before writing anything) a database that holds another key's hashes.
    """
    check_key_fingerprint(driver, key_fingerprint, database=database)
    for statement in (*cypher.SCHEMA_STATEMENTS, *cypher.HISTORY_SCHEMA_STATEMENTS):
        run(driver, statement, database)
    run(driver, cypher.AWAIT_INDEXES, database)
    write(
        driver,
        cypher.SET_SCHEMA_INFO,
        database,
        version=SCHEMA_VERSION,
        key_fingerprint=key_fingerprint,
    )
    return SchemaInfo(version=SCHEMA_VERSION, key_fingerprint=key_fingerprint)
