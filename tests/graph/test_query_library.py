"""The query library: headers, parameter checking and coercion, read-only runs with a timeout."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import neo4j
import pytest

from graph.query_library import (
    QUERIES_DIR,
    QueryLibraryError,
    QueryRefusedError,
    adhoc_query,
    get_query,
    load_library,
    parse_query,
    run_query,
    to_plain,
)

REQUIRED_QUERIES = {
    "identifier_rings",
    "circular_trading",
    "wash_trading",
    "pass_through",
    "bust_out",
    "risky_communities",
    "neighbourhood",
}

HEADER = """// name: demo
// title: A demo
// finds: nothing much,
//   on two lines
// param n: int = 3 [1..10] | a count
// param share: float = 0.5 [0..1] | a share
// param flag: bool = false | a switch
// param kinds: list[str] = ["a", "b"] | some kinds
// param since: datetime = null | a time
// param who: str = required | a business
// hit: nothing
// seconds: 2
MATCH (b:Business) WHERE b.business_id = $who RETURN $n, $share, $flag, $kinds, $since
"""


def test_library_holds_every_question_with_a_full_header() -> None:
    library = load_library()
    assert set(library) >= REQUIRED_QUERIES
    for name, query in library.items():
        assert query.path is not None and query.path.stem == name
        assert query.title and query.finds and query.hit and query.seconds > 0
        used = set(re.findall(r"\$(\w+)", query.text.split("\n// seconds")[-1]))
        assert used <= {p.name for p in query.params}, name


def test_header_is_parsed_with_multiline_fields_types_bounds_and_required() -> None:
    query = parse_query(HEADER)
    assert query.name == "demo" and query.seconds == 2.0
    assert query.finds == "nothing much, on two lines"
    assert [p.name for p in query.params] == ["n", "share", "flag", "kinds", "since", "who"]
    assert query.param("n").default == 3 and (query.param("n").lo, query.param("n").hi) == (1, 10)
    assert query.param("kinds").default == ["a", "b"]
    assert query.param("who").required


def test_bind_coerces_command_line_strings() -> None:
    query = parse_query(HEADER)
    bound = query.bind(
        {
            "n": "7",
            "share": "0.25",
            "flag": "yes",
            "kinds": "x, y",
            "since": "2024-05-01",
            "who": "B1",
        }
    )
    assert bound["n"] == 7 and bound["share"] == 0.25 and bound["flag"] is True
    assert bound["kinds"] == ["x", "y"]
    assert bound["since"] == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert query.bind({"who": "B1", "kinds": '["p"]'})["kinds"] == ["p"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"who": "B1", "nope": "1"}, "has no parameter 'nope'; its parameters are: n, share"),
        ({"who": "B1", "n": "abc"}, "'n' expects int"),
        ({"who": "B1", "n": "2.5"}, "'n' expects int"),
        ({"who": "B1", "n": "11"}, "between 1 and 10"),
        ({"who": "B1", "flag": "maybe"}, "'flag' expects bool"),
        ({"who": "B1", "since": "yesterday"}, "'since' expects datetime"),
        ({}, "needs a value for who"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(QueryLibraryError, match=re.escape(message)):
        parse_query(HEADER).bind(values)


def test_unknown_query_names_the_known_ones() -> None:
    with pytest.raises(QueryLibraryError, match=r"No query named 'ringz'.*identifier_rings"):
        get_query("ringz")


def test_malformed_headers_are_refused() -> None:
    with pytest.raises(QueryLibraryError, match="lacks name"):
        parse_query("// title: t\n// finds: f\n// hit: h\nRETURN 1")
    with pytest.raises(QueryLibraryError, match=r"undeclared parameters \['x'\]"):
        parse_query("// name: a\n// title: t\n// finds: f\n// hit: h\nRETURN $x")
    with pytest.raises(QueryLibraryError, match="cannot read parameter line"):
        parse_query("// name: a\n// title: t\n// finds: f\n// hit: h\n// param x int\nRETURN 1")
    with pytest.raises(QueryLibraryError, match="not one of"):
        parse_query("// name: a\n// title: t\n// finds: f\n// hit: h\n// param x: map = 1 | m\n")


def test_library_file_name_must_match_header_name(tmp_path: Path) -> None:
    (tmp_path / "other.cypher").write_text(HEADER)
    with pytest.raises(QueryLibraryError, match="differs from file name"):
        load_library(tmp_path)


def test_adhoc_file_without_header_takes_json_parameters(tmp_path: Path) -> None:
    path = tmp_path / "mine.cypher"
    path.write_text("MATCH (b:Business) WHERE b.business_id IN $ids RETURN b LIMIT $n\n")
    query = adhoc_query(path)
    assert query.bind({"ids": '["A", "B"]', "n": "3"}) == {"ids": ["A", "B"], "n": 3}
    with pytest.raises(QueryLibraryError, match="No such query file"):
        adhoc_query(tmp_path / "missing.cypher")


def test_to_plain_turns_neo4j_temporals_into_iso_text() -> None:
    stamp = neo4j.time.DateTime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert to_plain({"a": [stamp]}) == {"a": ["2024-01-02T03:04:05.000000000+00:00"]}


@pytest.mark.neo4j
def test_a_write_is_refused_and_changes_nothing(neo4j_driver: neo4j.Driver, tmp_path: Path) -> None:
    """Refused by the library's plan check; tests/adversarial shows the server refuses it too
    when that check is bypassed."""
    path = tmp_path / "sneaky.cypher"
    path.write_text("CREATE (:Business {business_id: 'EVIL'}) RETURN 1 AS done\n")
    with pytest.raises(QueryRefusedError, match="reads and writes"):
        run_query(neo4j_driver, adhoc_query(path))
    with neo4j_driver.session() as session:
        assert session.run("MATCH (b:Business) RETURN count(b) AS n").single()["n"] == 0


@pytest.mark.neo4j
def test_a_query_past_its_timeout_is_stopped(neo4j_driver: neo4j.Driver, tmp_path: Path) -> None:
    path = tmp_path / "slow.cypher"
    path.write_text("UNWIND range(1, 1000000000) AS x WITH x WHERE x % 7 = 3 RETURN count(*)\n")
    with pytest.raises(neo4j.exceptions.ClientError, match="TransactionTimedOut"):
        run_query(neo4j_driver, adhoc_query(path), timeout_s=0.5)


@pytest.mark.neo4j
def test_run_returns_plain_rows_with_defaults_applied(neo4j_driver: neo4j.Driver) -> None:
    with neo4j_driver.session() as session:
        session.run("CREATE (:Business {business_id: 'B1', registered_at: datetime()})").consume()
    result = run_query(neo4j_driver, parse_query(HEADER), {"who": "B1", "n": 4})
    assert result.keys == ["$n", "$share", "$flag", "$kinds", "$since"]
    assert result.rows == [
        {"$n": 4, "$share": 0.5, "$flag": False, "$kinds": ["a", "b"], "$since": None}
    ]
    assert QUERIES_DIR.is_dir()


def test_ring_queries_treat_the_same_identifiers_as_hubs_as_loading_and_features() -> None:
    from loaders.columns import HUB_THRESHOLD

    library = load_library()
    assert library["identifier_rings"].param("max_sharing").default == HUB_THRESHOLD


def test_narrow_headers_name_declared_parameters_with_valid_values() -> None:
    library = load_library()
    for name in ("circular_trading", "wash_trading", "identifier_rings", "bust_out"):
        narrow = dict(library[name].narrow)
        assert narrow, f"{name} has no narrower scope to retry on"
        library[name].bind(narrow)  # raises on an unknown name or a value out of range
    text = "// name: q\n// title: t\n// finds: f\n// hit: h\n// param limit: int = 5 [1..9] | n\n"
    with pytest.raises(QueryLibraryError, match="no parameter"):
        parse_query(text + "// narrow: nope=3\nRETURN $limit")
    with pytest.raises(QueryLibraryError, match="between"):
        parse_query(text + "// narrow: limit=99\nRETURN $limit")
    assert parse_query(text + "// narrow: limit=2\nRETURN $limit").narrow == (("limit", 2),)
