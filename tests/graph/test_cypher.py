"""Unit tests of the Cypher library: names are allow-listed, statements are parameterised."""

from __future__ import annotations

import re

import pytest

from graph import cypher

#: The load, schema, snapshot and analytics statements (other areas append their own).
_LOAD_STATEMENTS = (
    "SET_SCHEMA_INFO",
    "EXISTING_BUSINESSES",
    "UPSERT_BUSINESSES",
    "EXISTING_IDENTIFIER_LINKS",
    "LINK_IDENTIFIERS",
    "MARK_IDENTIFIER_HUBS",
    "EXISTING_ORDERS",
    "CREATE_ORDERS",
    "UPDATE_ORDERS",
    "ADD_PAIR_DELTAS",
    "RECOMPUTE_PAIRS",
    "EXISTING_OUTCOMES",
    "UPSERT_OUTCOMES",
    "START_LOAD_RUN",
    "FINISH_LOAD_RUN",
    "SNAPSHOT_BUSINESSES",
    "SNAPSHOT_IDENTIFIERS",
    "SNAPSHOT_ORDERS",
    "SNAPSHOT_OUTCOMES",
)


def test_checked_name_accepts_listed_names() -> None:
    assert cypher.checked_name("label", "Business") == "Business"
    assert cypher.checked_name("business_property", "pagerank") == "pagerank"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("label", "Business) DETACH DELETE (n"),
        ("label", "business"),
        ("rel_type", "KNOWS"),
        ("business_property", "risk_pd"),
        ("nope", "Business"),
    ],
)
def test_checked_name_rejects_unknown(kind: str, name: str) -> None:
    with pytest.raises(cypher.UnknownNameError):
        cypher.checked_name(kind, name)


def test_set_business_properties_only_builds_listed_names() -> None:
    text = cypher.set_business_properties("pagerank", "louvain_community")
    assert text == (
        "UNWIND $rows AS row\n"
        "MATCH (b:Business {business_id: row.business_id})\n"
        "SET b.pagerank = row.pagerank, b.louvain_community = row.louvain_community"
    )
    with pytest.raises(cypher.UnknownNameError):
        cypher.set_business_properties("pagerank = 1, b.x")


def test_schema_statements_are_idempotent_and_guard_txn_id() -> None:
    assert all("IF NOT EXISTS" in s for s in cypher.SCHEMA_STATEMENTS)
    assert any("r:SOLD_TO" in s and "r.txn_id IS UNIQUE" in s for s in cypher.SCHEMA_STATEMENTS)


def test_statements_take_values_only_as_parameters() -> None:
    """Data values arrive as $parameters: the only string literals are fixed vocabulary."""
    quoted = re.compile(r"'([^']*)'")
    vocabulary = {"running", "cancelled", "refunded", "disputed", ":"}
    for name in _LOAD_STATEMENTS:
        text = getattr(cypher, name)
        assert "$" in text, name
        for literal in quoted.findall(text):
            assert literal in vocabulary, (name, literal)


def test_snapshot_statements_never_read_all_time_data() -> None:
    for name in (
        "SNAPSHOT_BUSINESSES",
        "SNAPSHOT_IDENTIFIERS",
        "SNAPSHOT_ORDERS",
        "SNAPSHOT_OUTCOMES",
    ):
        text = getattr(cypher, name)
        for forbidden in (
            "TRADES_WITH",
            "pagerank",
            "louvain",
            "risk_",
            "Score",
            "Cluster",
            "degree",
        ):
            assert forbidden not in text, (name, forbidden)


def test_order_lookup_uses_the_txn_id_parameter() -> None:
    assert "UNWIND $ids AS id" in cypher.EXISTING_ORDERS
    assert "SOLD_TO {txn_id: id}" in cypher.EXISTING_ORDERS
    assert "CREATE (s)-[:SOLD_TO" in cypher.CREATE_ORDERS
