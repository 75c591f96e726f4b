"""``tradegraph query`` and ``tradegraph clusters`` against the real Neo4j and the fixture graph."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import neo4j
import pytest
import typer
from typer.testing import CliRunner

from graph.query_library import load_library
from tradegraph.cli import query_cmd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graph"))
from fraud_fixture import RING, build_fraud_fixture

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    """An app holding only this area's commands (as ``tradegraph.cli.main`` registers them)."""
    application = typer.Typer()
    query_cmd.register(application)
    return application


@pytest.fixture
def graph(neo4j_driver: neo4j.Driver, monkeypatch: pytest.MonkeyPatch) -> neo4j.Driver:
    """The fixture graph, and the CLI pointed at the suite's server."""
    build_fraud_fixture(neo4j_driver)

    @contextmanager
    def suite_driver() -> Iterator[neo4j.Driver]:
        yield neo4j_driver

    monkeypatch.setattr(query_cmd, "_open_driver", suite_driver)
    monkeypatch.setattr(query_cmd, "_database", lambda: None)
    return neo4j_driver


def test_query_list_shows_every_library_query(app: typer.Typer) -> None:
    result = runner.invoke(app, ["query", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in load_library():
        assert name in result.output


def test_query_show_prints_header_and_parameters(app: typer.Typer) -> None:
    result = runner.invoke(app, ["query", "show", "wash_trading"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--param min_repeats=..." in result.output and "A hit means" in result.output


def test_export_browser_writes_favourites_and_guide_from_the_library(
    app: typer.Typer, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["query", "export-browser", str(tmp_path / "browser")])
    assert result.exit_code == 0, result.output
    library = load_library()
    with zipfile.ZipFile(tmp_path / "browser" / "tradegraph-favorites.zip") as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"tradegraph/{n}.cypher" for n in library)
        for name, query in library.items():
            text = archive.read(f"tradegraph/{name}.cypher").decode()
            assert text.startswith(f"// {query.title}\n")
            assert query.text.strip() in text  # the same query, never a drifted copy
    guide = (tmp_path / "browser" / "tradegraph-guide.html").read_text()
    assert guide.count("<slide") == len(library) + 1
    assert ":params {min_repeats: 3, amount_tolerance: 0.05" in guide


@pytest.mark.neo4j
def test_run_prints_json_and_csv(app: typer.Typer, graph: neo4j.Driver) -> None:
    result = runner.invoke(app, ["query", "run", "wash_trading", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["business_a"], r["business_b"]) for r in rows] == [("W1", "W2")]

    result = runner.invoke(
        app, ["query", "run", "identifier_rings", "-p", "min_internal_share=0", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.output)))
    assert [json.loads(r["members"]) for r in table] == [RING, ["F1", "F2", "F3"]]


@pytest.mark.neo4j
def test_run_table_output(app: typer.Typer, graph: neo4j.Driver) -> None:
    result = runner.invoke(
        app,
        ["query", "run", "neighbourhood", "--param", "business_id=R1", "--param", "hops=1"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    assert "neighbourhood: 5 rows" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "run", "ringz"], "No query named 'ringz'"),
        (["query", "run", "wash_trading", "-p", "nope=1"], "has no parameter 'nope'"),
        (["query", "run", "wash_trading", "-p", "min_repeats=lots"], "expects int"),
        (["query", "run", "wash_trading", "-p", "min_repeats"], "--param takes key=value"),
        (["query", "run", "neighbourhood"], "needs a value for business_id"),
        (["query", "run", "wash_trading", "--format", "xml"], "--format must be one of"),
        (["query", "run"], "Give a query NAME or --file"),
    ],
)
def test_user_errors_exit_2_with_one_message(
    app: typer.Typer, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.neo4j
def test_adhoc_file_runs_read_only_and_a_write_is_refused(
    app: typer.Typer, graph: neo4j.Driver, tmp_path: Path
) -> None:
    reader = tmp_path / "mine.cypher"
    reader.write_text("MATCH (b:Business) WHERE b.business_id IN $ids RETURN b.business_id AS id")
    result = runner.invoke(
        app, ["query", "run", "--file", str(reader), "-p", 'ids=["R1","W1"]', "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(r["id"] for r in json.loads(result.output)) == ["R1", "W1"]

    before = graph.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"]
    writer = tmp_path / "write.cypher"
    writer.write_text("MATCH (b:Business) DETACH DELETE b")
    result = runner.invoke(app, ["query", "run", "--file", str(writer)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "refused a write" in " ".join(result.output.split())
    assert graph.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"] == before


@pytest.mark.neo4j
def test_clusters_find_list_and_mark(app: typer.Typer, graph: neo4j.Driver) -> None:
    result = runner.invoke(app, ["clusters"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "4 clusters written" in result.output
    ring_id = graph.execute_query(
        "MATCH (c:Cluster {kind: 'identifier_ring'}) RETURN c.cluster_id AS id"
    ).records[0]["id"]

    result = runner.invoke(app, ["clusters", "list"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and ring_id in result.output

    result = runner.invoke(
        app,
        ["clusters", "mark", ring_id, "confirmed", "--note", "docs checked", "--analyst", "eve"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    assert "4 fraud_confirmed credit events at" in " ".join(result.output.split())
    labels = graph.execute_query(
        "MATCH (b:Business)-[:HAD_EVENT]->(e:CreditEvent {event: 'fraud_confirmed', "
        "source: 'analyst'}) RETURN b.business_id AS id ORDER BY id"
    ).records
    assert [r["id"] for r in labels] == RING

    result = runner.invoke(
        app, ["clusters", "mark", ring_id, "dismissed", "--note", "x"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 2 and "already confirmed by eve" in result.output


def test_clusters_show_draws_members_shared_identifiers_and_trade(
    app: typer.Typer, graph: neo4j.Driver, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["clusters"], env={"COLUMNS": "300"}).exit_code == 0
    ring_id = graph.execute_query(
        "MATCH (c:Cluster {kind: 'identifier_ring'}) RETURN c.cluster_id AS id"
    ).records[0]["id"]
    result = runner.invoke(app, ["clusters", "show", ring_id, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    png, page = tmp_path / f"{ring_id}.png", tmp_path / f"{ring_id}.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    text = page.read_text()
    assert all(f"<td>{member}</td>" in text for member in RING)
    # The shared device is listed with the three members that hold it; the ring's own
    # trade is there with its amounts, the sale to the outsider X1 is not.
    assert "<td>device_id</td>" in text and "<td>R1, R2, R3</td>" in text
    assert "10,000.00 USD" in text and "8,000.00 USD" in text and "<td>X1</td>" not in text
    assert "data:image/png;base64," in text
    unknown = runner.invoke(app, ["clusters", "show", "identifier_ring-000000000000"])
    assert unknown.exit_code == 2 and "clusters list" in unknown.output


def test_clusters_says_a_partial_run_and_exits_3(
    app: typer.Typer, graph: neo4j.Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graph.clusters as clusters_module
    from graph.cycles import CycleBudgetError

    def circular_times_out(driver, params=None, **options):
        raise CycleBudgetError("circular_trading ran past its budget")

    monkeypatch.setitem(clusters_module.BATCHED, "circular_trading", circular_times_out)
    result = runner.invoke(app, ["clusters"], env={"COLUMNS": "300"})
    assert result.exit_code == 3, result.output
    assert "clusters written" in result.output
    assert "circular_trading: skipped" in result.output
    assert "partial run" in result.output
