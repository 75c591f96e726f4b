"""Schema: idempotent constraints and the identifier-key fingerprint guard."""

from __future__ import annotations

import pytest

from graph.load import graph_counts, load_frames
from graph.schema import (
    KeyFingerprintMismatchError,
    ensure_schema,
    key_fingerprint,
    read_schema_info,
)
from graph.session import read_frame
from tests.graph.frames import make_frames

pytestmark = pytest.mark.neo4j


def test_fingerprint_is_stable_and_key_specific() -> None:
    assert key_fingerprint(b"k1") == key_fingerprint(b"k1")
    assert key_fingerprint(b"k1") != key_fingerprint(b"k2")
    assert "k1" not in key_fingerprint(b"k1")


def test_ensure_schema_is_idempotent(neo4j_driver) -> None:
    ensure_schema(neo4j_driver, "fp-a")
    first = read_frame(neo4j_driver, "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name")
    ensure_schema(neo4j_driver, "fp-a")
    second = read_frame(neo4j_driver, "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name")
    assert first["name"].tolist() == second["name"].tolist()
    kinds = read_frame(
        neo4j_driver,
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties "
        "RETURN type, labelsOrTypes[0] AS on, properties[0] AS property",
    )
    assert {"RELATIONSHIP_UNIQUENESS", "SOLD_TO", "txn_id"} in [
        set(row) for row in kinds.itertuples(index=False)
    ]
    info = read_schema_info(neo4j_driver)
    assert info.key_fingerprint == "fp-a" and info.version is not None
    assert graph_counts(neo4j_driver)["businesses"] == 0


def test_load_with_another_key_is_refused_before_writing(neo4j_driver) -> None:
    frames = make_frames(n_businesses=10, n_orders=30)
    load_frames(
        neo4j_driver,
        frames.businesses,
        frames.identifiers,
        [frames.orders],
        None,
        key_fingerprint=key_fingerprint(b"original"),
    )
    before = graph_counts(neo4j_driver)
    later = make_frames(n_businesses=12, n_orders=40, seed=99)
    with pytest.raises(KeyFingerprintMismatchError, match="TRADEGRAPH_HASH_KEY"):
        load_frames(
            neo4j_driver,
            later.businesses,
            later.identifiers,
            [later.orders],
            None,
            key_fingerprint=key_fingerprint(b"another"),
        )
    assert graph_counts(neo4j_driver) == before
    assert read_schema_info(neo4j_driver).key_fingerprint == key_fingerprint(b"original")
